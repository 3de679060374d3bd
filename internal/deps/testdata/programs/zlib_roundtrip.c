// Compresses and uncompresses a buffer with zlib.
#include <stdio.h>
#include <string.h>
#include <zlib.h>

int main(void) {
	char in[4096], out[4096];
	unsigned char packed[8192];
	for (int i = 0; i < (int)sizeof in; i++) in[i] = "portabin"[i % 8];
	uLongf plen = sizeof packed, olen = sizeof out;
	if (compress2(packed, &plen, (const Bytef *)in, sizeof in, 9) != Z_OK) return 1;
	if (uncompress((Bytef *)out, &olen, packed, plen) != Z_OK) return 2;
	if (olen != sizeof in || memcmp(in, out, olen) != 0) return 3;
	printf("zlib %s: %lu -> %lu bytes and back\n", zlibVersion(), (unsigned long)sizeof in, (unsigned long)plen);
	return 0;
}
