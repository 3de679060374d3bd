// The seed program: C++11 threads and futures, a C++14 generic lambda.
#include <future>
#include <iostream>
#include <thread>

#include "version.h"

int main() {
  std::cout << "musl_test version: " << MUSL_TEST_VERSION << std::endl;

  auto t1 = std::thread([] { std::cout << "Hello from thread!" << std::endl; });
  t1.join();

  const auto n = 1;
  auto f = [n](auto i) { return n + i; };
  std::cout << "f(1) = " << f(1) << std::endl;

  auto result = std::async(f, 2);
  std::cout << "f(2) = " << result.get() << std::endl;
  return 0;
}
