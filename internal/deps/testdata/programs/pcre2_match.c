// Matches a regular expression with PCRE2 and prints the captured groups.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

int main(void) {
	int err;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR) "(\\w+)@(\\w+)\\.org", PCRE2_ZERO_TERMINATED, 0, &err, &off, NULL);
	if (!re) return 1;
	const char *subject = "mail portabin@example.org today";
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	int rc = pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
	if (rc != 3) return 2;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
	printf("pcre2: user=%.*s host=%.*s\n", (int)(ov[3] - ov[2]), subject + ov[2], (int)(ov[5] - ov[4]), subject + ov[4]);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return 0;
}
