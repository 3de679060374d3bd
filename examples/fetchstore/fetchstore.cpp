// fetchstore fetches pages with libcurl (HTTPS through OpenSSL), keeps them zlib-compressed in a
// SQLite database, and prints them back.
//
//   fetchstore get URL DB [--cacert FILE]   fetch URL and store it in DB
//   fetchstore show URL DB                  print the page stored for URL
//   fetchstore roundtrip URL [--cacert FILE]
//                                           get then show, with a database in a temporary folder
//   fetchstore versions                     the libraries inside
#include <curl/curl.h>
#include <sqlite3.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string fetch(const std::string &url, const char *cacert) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) throw Error("curl_easy_init failed");
  std::string body;
  auto collect = +[](char *p, size_t size, size_t n, void *out) -> size_t {
    static_cast<std::string *>(out)->append(p, size * n);
    return size * n;
  };
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
  if (cacert) curl_easy_setopt(curl.get(), CURLOPT_CAINFO, cacert);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) throw Error(url + ": " + curl_easy_strerror(rc));
  return body;
}

std::string compress(const std::string &in) {
  uLongf size = compressBound(in.size());
  std::string out(size, '\0');
  if (compress2(reinterpret_cast<Bytef *>(&out[0]), &size, reinterpret_cast<const Bytef *>(in.data()), in.size(), 9) != Z_OK)
    throw Error("compressing the page failed");
  out.resize(size);
  return out;
}

std::string uncompress(const std::string &in, size_t size) {
  std::string out(size, '\0');
  uLongf got = size;
  if (::uncompress(reinterpret_cast<Bytef *>(&out[0]), &got, reinterpret_cast<const Bytef *>(in.data()), in.size()) != Z_OK || got != size)
    throw Error("the stored page is damaged");
  return out;
}

class Store {
 public:
  explicit Store(const std::string &path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw Error(path + ": " + sqlite3_errmsg(db_));
    exec("CREATE TABLE IF NOT EXISTS pages(url TEXT PRIMARY KEY, size INTEGER, body BLOB)");
  }
  ~Store() { sqlite3_close(db_); }
  Store(const Store &) = delete;
  Store &operator=(const Store &) = delete;

  void put(const std::string &url, const std::string &page) {
    std::string packed = compress(page);
    Statement st(db_, "INSERT OR REPLACE INTO pages VALUES(?, ?, ?)");
    sqlite3_bind_text(st.get(), 1, url.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st.get(), 2, static_cast<sqlite3_int64>(page.size()));
    sqlite3_bind_blob(st.get(), 3, packed.data(), static_cast<int>(packed.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(st.get()) != SQLITE_DONE) throw Error(sqlite3_errmsg(db_));
    std::printf("stored %s: %zu bytes, %zu compressed\n", url.c_str(), page.size(), packed.size());
  }

  std::string get(const std::string &url) {
    Statement st(db_, "SELECT size, body FROM pages WHERE url = ?");
    sqlite3_bind_text(st.get(), 1, url.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st.get()) != SQLITE_ROW) throw Error(url + " is not stored");
    auto size = static_cast<size_t>(sqlite3_column_int64(st.get(), 0));
    std::string packed(static_cast<const char *>(sqlite3_column_blob(st.get(), 1)), sqlite3_column_bytes(st.get(), 1));
    return uncompress(packed, size);
  }

 private:
  struct Statement {
    Statement(sqlite3 *db, const char *sql) {
      if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) throw Error(sqlite3_errmsg(db));
    }
    ~Statement() { sqlite3_finalize(st_); }
    sqlite3_stmt *get() const { return st_; }
    sqlite3_stmt *st_ = nullptr;
  };
  void exec(const char *sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) throw Error(sqlite3_errmsg(db_));
  }
  sqlite3 *db_ = nullptr;
};

const char *cacertOf(const std::vector<std::string> &args, size_t from) {
  for (size_t i = from; i + 1 < args.size(); i++)
    if (args[i] == "--cacert") return args[i + 1].c_str();
  return nullptr;
}

int usage() {
  std::fputs("usage: fetchstore get URL DB [--cacert FILE] | show URL DB | roundtrip URL [--cacert FILE] | versions\n", stderr);
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usage();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  try {
    const std::string &cmd = args[0];
    if (cmd == "versions" && args.size() == 1) {
      const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
      std::printf("fetchstore %s\ncurl %s (%s)\nzlib %s\nsqlite %s\n", FETCHSTORE_VERSION, v->version, v->ssl_version,
                  zlibVersion(), sqlite3_libversion());
    } else if (cmd == "get" && args.size() >= 3) {
      Store(args[2]).put(args[1], fetch(args[1], cacertOf(args, 3)));
    } else if (cmd == "show" && args.size() == 3) {
      std::fputs(Store(args[2]).get(args[1]).c_str(), stdout);
    } else if (cmd == "roundtrip" && args.size() >= 2) {
      const char *tmp = std::getenv("TMPDIR");
      std::string db = std::string(tmp ? tmp : "/tmp") + "/fetchstore-" + std::to_string(static_cast<long>(getpid())) + ".db";
      {
        Store store(db);
        store.put(args[1], fetch(args[1], cacertOf(args, 2)));
        std::fputs(store.get(args[1]).c_str(), stdout);
      }
      std::remove(db.c_str());
    } else {
      return usage();
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "fetchstore: %s\n", e.what());
    return 1;
  }
  curl_global_cleanup();
  return 0;
}
