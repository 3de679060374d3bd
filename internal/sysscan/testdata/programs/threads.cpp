// Like examples/seed: C++11 threads and futures (stdio instead of iostream,
// which would double the compile time).
#include <cstdio>
#include <future>
#include <thread>

int main() {
  auto t = std::thread([] { std::puts("Hello from thread!"); });
  t.join();
  auto f = [](int i) { return i + 1; };
  auto result = std::async(std::launch::async, f, 2);
  std::printf("f(2) = %d\n", result.get());
  return 0;
}
