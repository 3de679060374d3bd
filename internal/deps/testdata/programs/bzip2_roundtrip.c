// Compresses and uncompresses a buffer with libbz2.
#include <bzlib.h>
#include <stdio.h>
#include <string.h>

int main(void) {
	char in[10000], out[10000], packed[12000];
	for (int i = 0; i < (int)sizeof in; i++) in[i] = "abcabd"[i % 6];
	unsigned plen = sizeof packed, olen = sizeof out;
	if (BZ2_bzBuffToBuffCompress(packed, &plen, in, sizeof in, 9, 0, 0) != BZ_OK) return 1;
	if (BZ2_bzBuffToBuffDecompress(out, &olen, packed, plen, 0, 0) != BZ_OK) return 2;
	if (olen != sizeof in || memcmp(in, out, olen) != 0) return 3;
	printf("bzip2 %s: %u -> %u bytes and back\n", BZ2_bzlibVersion(), (unsigned)sizeof in, plen);
	return 0;
}
