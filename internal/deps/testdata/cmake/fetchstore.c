// fetchstore URL CA-FILE DB: fetches URL trusting CA-FILE, stores the page in the SQLite
// database DB, reads it back from a new connection and prints it with its crc32.
#include <curl/curl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct buf { char *data; size_t len; };

static size_t collect(char *p, size_t size, size_t n, void *arg) {
	struct buf *b = arg;
	b->data = realloc(b->data, b->len + size * n + 1);
	memcpy(b->data + b->len, p, size * n);
	b->len += size * n;
	b->data[b->len] = 0;
	return size * n;
}

int main(int argc, char **argv) {
	if (argc != 4) return 2;
	struct buf page = {0};
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_URL, argv[1]);
	curl_easy_setopt(c, CURLOPT_CAINFO, argv[2]);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &page);
	CURLcode rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		fprintf(stderr, "fetchstore: %s\n", curl_easy_strerror(rc));
		return 1;
	}
	curl_easy_cleanup(c);

	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open(argv[3], &db) != SQLITE_OK) return 3;
	sqlite3_exec(db, "CREATE TABLE pages(url TEXT, body TEXT)", 0, 0, 0);
	sqlite3_prepare_v2(db, "INSERT INTO pages VALUES(?, ?)", -1, &st, 0);
	sqlite3_bind_text(st, 1, argv[1], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, page.data, (int)page.len, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_DONE) return 4;
	sqlite3_finalize(st);
	sqlite3_close(db);

	if (sqlite3_open(argv[3], &db) != SQLITE_OK) return 5;
	sqlite3_prepare_v2(db, "SELECT body FROM pages WHERE url = ?", -1, &st, 0);
	sqlite3_bind_text(st, 1, argv[1], -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) return 6;
	const char *body = (const char *)sqlite3_column_text(st, 0);
	printf("%s (crc32 %08lx) via curl %s, sqlite %s\n", body, crc32(0, (const Bytef *)body, strlen(body)),
	       curl_version_info(CURLVERSION_NOW)->version, sqlite3_libversion());
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}
