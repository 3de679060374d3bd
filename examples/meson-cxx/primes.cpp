// Counts primes below a bound on several threads: exercises libc++, threads and futures.
#include <future>
#include <iostream>
#include <vector>

#include "config.h"

static bool is_prime(unsigned n) {
  if (n < 2) return false;
  for (unsigned d = 2; d * d <= n; d++)
    if (n % d == 0) return false;
  return true;
}

int main() {
  const unsigned limit = 100000, parts = 4;
  std::vector<std::future<unsigned>> counts;
  for (unsigned p = 0; p < parts; p++) {
    counts.push_back(std::async(std::launch::async, [=] {
      unsigned c = 0;
      for (unsigned n = p * limit / parts; n < (p + 1) * limit / parts; n++) c += is_prime(n);
      return c;
    }));
  }
  unsigned total = 0;
  for (auto &c : counts) total += c.get();
  std::cout << "primes " << PRIMES_VERSION << ": " << total << " primes below " << limit << std::endl;
}
