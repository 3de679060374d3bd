// Like examples/seed: C++11 threads and futures.
#include <future>
#include <iostream>
#include <thread>

int main() {
  auto t = std::thread([] { std::cout << "Hello from thread!" << std::endl; });
  t.join();
  auto f = [](int i) { return i + 1; };
  auto result = std::async(std::launch::async, f, 2);
  std::cout << "f(2) = " << result.get() << std::endl;
  return 0;
}
