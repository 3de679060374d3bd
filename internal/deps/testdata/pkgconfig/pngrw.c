// pngrw FILE: writes a 3x2 RGBA image as PNG with libpng, reads it back and compares; then
// checks the file name with a PCRE2 pattern.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <png.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
	if (argc != 2) return 2;
	unsigned char pixels[3 * 2 * 4], back[3 * 2 * 4];
	for (int i = 0; i < (int)sizeof pixels; i++) pixels[i] = (unsigned char)(i * 37);
	png_image img;
	memset(&img, 0, sizeof img);
	img.version = PNG_IMAGE_VERSION;
	img.width = 3;
	img.height = 2;
	img.format = PNG_FORMAT_RGBA;
	if (!png_image_write_to_file(&img, argv[1], 0, pixels, 0, NULL)) return 3;
	png_image in;
	memset(&in, 0, sizeof in);
	in.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&in, argv[1])) return 4;
	in.format = PNG_FORMAT_RGBA;
	if (!png_image_finish_read(&in, NULL, back, 0, NULL)) return 5;
	if (in.width != 3 || in.height != 2 || memcmp(pixels, back, sizeof back) != 0) return 6;

	int err;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR) "\\.png$", PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int named = pcre2_match(re, (PCRE2_SPTR)argv[1], strlen(argv[1]), 0, 0, md, NULL) > 0;
	printf("libpng %s: %ux%u image written and read back; name ends in .png: %s\n", png_get_libpng_ver(NULL),
	       in.width, in.height, named ? "yes" : "no");
	return 0;
}
