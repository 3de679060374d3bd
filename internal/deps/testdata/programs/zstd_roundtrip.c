// Compresses and uncompresses a buffer with libzstd.
#include <stdio.h>
#include <string.h>
#include <zstd.h>

int main(void) {
	char in[10000], out[10000], packed[12000];
	for (int i = 0; i < (int)sizeof in; i++) in[i] = "zstandard"[i % 9];
	size_t plen = ZSTD_compress(packed, sizeof packed, in, sizeof in, 19);
	if (ZSTD_isError(plen)) return 1;
	size_t olen = ZSTD_decompress(out, sizeof out, packed, plen);
	if (ZSTD_isError(olen)) return 2;
	if (olen != sizeof in || memcmp(in, out, olen) != 0) return 3;
	printf("zstd %s: %zu -> %zu bytes and back\n", ZSTD_versionString(), sizeof in, plen);
	return 0;
}
