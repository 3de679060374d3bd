// Compresses and uncompresses a buffer with liblzma.
#include <lzma.h>
#include <stdio.h>
#include <string.h>

int main(void) {
	uint8_t in[10000], out[10000], packed[12000];
	for (size_t i = 0; i < sizeof in; i++) in[i] = (uint8_t)(i % 7);
	size_t plen = 0, inpos = 0, olen = 0;
	if (lzma_easy_buffer_encode(6, LZMA_CHECK_CRC64, NULL, in, sizeof in, packed, &plen, sizeof packed) != LZMA_OK) return 1;
	uint64_t memlimit = UINT64_MAX;
	if (lzma_stream_buffer_decode(&memlimit, 0, NULL, packed, &inpos, plen, out, &olen, sizeof out) != LZMA_OK) return 2;
	if (olen != sizeof in || memcmp(in, out, olen) != 0) return 3;
	printf("xz %s: %zu -> %zu bytes and back\n", lzma_version_string(), sizeof in, plen);
	return 0;
}
