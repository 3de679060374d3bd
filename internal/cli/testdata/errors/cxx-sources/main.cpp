#include <iostream>

int main() {
	std::cout << "c++\n";
}
