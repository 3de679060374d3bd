package risk

// runtimeFile is a file or folder that programs open at run time and that is not in the same
// place, or not there at all, on every distribution.
type runtimeFile struct {
	path string
	why  string
}

// runtimeFiles: the CA bundle places are those Go's crypto/x509 searches, with the systems its
// comments name (src/crypto/x509/root_linux.go); the others are glibc's and musl's compiled-in
// paths (glibc: sysdeps/generic/paths.h, iconv/gconv_conf.c, locale/loadarchive.c; musl:
// src/time/__tz.c, src/network/resolvconf.c).
var runtimeFiles = []runtimeFile{
	{"/etc/ssl/certs/ca-certificates.crt", "CA bundle of Debian, Ubuntu, Gentoo and Arch; RHEL and Fedora have /etc/pki/tls/certs/ca-bundle.crt, openSUSE /etc/ssl/ca-bundle.pem"},
	{"/etc/pki/tls/certs/ca-bundle.crt", "CA bundle of RHEL, CentOS and Fedora; Debian, Ubuntu and Alpine have /etc/ssl/certs/ca-certificates.crt"},
	{"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", "CA bundle of RHEL/CentOS 7 and later and Fedora only"},
	{"/etc/ssl/ca-bundle.pem", "CA bundle of openSUSE and SLES only"},
	{"/etc/pki/tls/cacert.pem", "CA bundle of OpenELEC only"},
	{"/etc/ssl/cert.pem", "CA bundle of Alpine (and LibreSSL's default); many glibc distributions lack it"},
	{"/etc/ssl/certs", "OpenSSL's hashed CA folder: RHEL and Fedora keep no hashed links there"},
	{"/usr/local/ssl", "OpenSSL's default OPENSSLDIR for a build from source: no distribution keeps certificates or openssl.cnf there"},
	{"/usr/lib/ssl", "OPENSSLDIR of Debian and Ubuntu; other distributions use /etc/pki/tls or /etc/ssl"},
	{"/etc/nsswitch.conf", "name service configuration: glibc follows it (and its modules, such as sss or systemd, vary between systems); musl ignores it"},
	{"/etc/resolv.conf", "DNS configuration, read at run time; with systemd-resolved it points to a local stub"},
	{"/etc/hosts", "host table, read at run time"},
	{"/etc/services", "service port table: minimal containers lack it"},
	{"/etc/protocols", "protocol table: minimal containers lack it"},
	{"/etc/passwd", "user database: users from LDAP or SSSD are not in it"},
	{"/etc/group", "group database: groups from LDAP or SSSD are not in it"},
	{"/etc/shadow", "password database: readable by root only, users from LDAP or SSSD are not in it"},
	{"/var/run/nscd/socket", "name service cache daemon, consulted where nscd runs"},
	{"/usr/share/zoneinfo", "time-zone database: minimal containers (Alpine without tzdata, distroless) lack it"},
	{"/etc/localtime", "local time zone: many containers lack it, and the program then runs in UTC"},
	{"/etc/timezone", "time-zone name used by Debian and Ubuntu only"},
	{"/usr/lib/locale", "glibc's compiled locales: their format changes between glibc versions"},
	{"/usr/share/locale", "message catalogues, installed with each distribution's language packs"},
	{"/usr/lib/x86_64-linux-gnu/gconv", "glibc's iconv modules at Debian and Ubuntu's multiarch path; RHEL and Fedora have /usr/lib64/gconv"},
	{"/usr/lib/aarch64-linux-gnu/gconv", "glibc's iconv modules at Debian and Ubuntu's multiarch path; RHEL and Fedora have /usr/lib64/gconv"},
	{"/usr/lib64/gconv", "glibc's iconv modules at the RHEL, Fedora and openSUSE path; Debian and Ubuntu have /usr/lib/<arch>-linux-gnu/gconv"},
	{"/etc/ld.so.cache", "glibc's library cache, read by dlopen: its format differs between glibc versions"},
	{"/usr/share/terminfo", "terminfo database: Debian keeps the basic entries in /lib/terminfo, minimal containers have none"},
	{"/lib/terminfo", "terminfo folder of Debian and Ubuntu only"},
	{"/etc/terminfo", "local terminfo folder, rarely present"},
	// Paths under the ones above that name something else, found by the longest match and
	// then left out (an empty why): Go's time package lists IRIX's time-zone folder among
	// the places it looks, which is not glibc's locales.
	{"/usr/lib/locale/TZ", ""},
}

var runtimeWhy = func() map[string]string {
	m := map[string]string{}
	for _, rf := range runtimeFiles {
		m[rf.path] = rf.why
	}
	return m
}()

func (c *check) runtimeFiles() {
	for _, p := range c.strs.runtimeFiles {
		c.add(RuntimeFile, "%s: %s", p, runtimeWhy[p])
	}
}

// maxAbsPaths caps the abs-path findings; the rest are summed up in one more.
const maxAbsPaths = 10

func (c *check) absPaths() {
	paths := c.strs.absPaths
	for i, p := range paths {
		if i == maxAbsPaths {
			c.add(AbsPath, "and %d more build paths", len(paths)-maxAbsPaths)
			return
		}
		c.add(AbsPath, "%s: a path of the build machine (from __FILE__, an assert or a configured folder); it names a folder that other machines lack", p)
	}
}
