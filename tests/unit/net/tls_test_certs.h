#pragma once
// Test certificates generated in-process with the OpenSSL API (no `openssl` CLI, no files
// checked in): EC P-256 keys, certificates valid from an hour ago for a day, the name as
// both CN and DNS subjectAltName. Header-only (inline) so any test binary can use it
// without a CMake entry.
//
//   TempCertDir dir;                                           // removed when it goes away
//   TestCert def = makeSelfSigned(dir.path(), "default.test");
//   TestCert ca = makeCa(dir.path(), "Test CA");
//   TestCert leaf = makeCaSigned(dir.path(), "chain.test", ca);  // cert_path = leaf + CA
//
// Files are written as <dir>/<name>.crt and <dir>/<name>.key, '*' spelled "star".

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace fiberlb::net::tls::testing {

struct TestCert {
  std::string cert_path;  // PEM: the certificate, followed by its issuer's for a CA-signed one
  std::string key_path;   // PEM private key (PKCS#8)
};

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
class TempCertDir {
 public:
  TempCertDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fiberlb-tls-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempCertDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempCertDir(const TempCertDir&) = delete;
  TempCertDir& operator=(const TempCertDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

namespace detail {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct FileClose {
  void operator()(FILE* f) const { std::fclose(f); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using FilePtr = std::unique_ptr<FILE, FileClose>;

inline void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test certificate: ") + what + " failed");
}

inline std::string fileStem(const std::string& dir, std::string name) {
  for (size_t at = name.find('*'); at != std::string::npos; at = name.find('*'))
    name.replace(at, 1, "star");
  return (std::filesystem::path(dir) / name).string();
}

inline void addExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
  X509_EXTENSION_free(ext);
}

// A certificate for `name` with `key`'s public half, signed by `issuer_key` under
// `issuer` (nullptr issuer = self-signed).
inline X509Ptr makeCert(const std::string& name, EVP_PKEY* key, bool is_ca, X509* issuer,
                        EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);  // v3
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(name.c_str()), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));
  addExtension(cert.get(), signer, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "CA:FALSE");
  if (is_ca) {
    addExtension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    addExtension(cert.get(), signer, NID_subject_alt_name, "DNS:" + name);
  }
  check(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0,
        "X509_sign");
  return cert;
}

inline void appendCert(const std::string& path, X509* cert, const char* mode) {
  FilePtr f(std::fopen(path.c_str(), mode));
  check(f != nullptr, "fopen");
  check(PEM_write_X509(f.get(), cert) == 1, "PEM_write_X509");
}

inline void writeKey(const std::string& path, EVP_PKEY* key) {
  FilePtr f(std::fopen(path.c_str(), "w"));
  check(f != nullptr, "fopen");
  check(PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_PrivateKey");
}

inline X509Ptr readCert(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "r"));
  check(f != nullptr, "fopen");
  X509Ptr cert(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
  check(cert != nullptr, "PEM_read_X509");
  return cert;
}

inline PkeyPtr readKey(const std::string& path) {
  FilePtr f(std::fopen(path.c_str(), "r"));
  check(f != nullptr, "fopen");
  PkeyPtr key(PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr));
  check(key != nullptr, "PEM_read_PrivateKey");
  return key;
}

inline TestCert make(const std::string& dir, const std::string& name, bool is_ca,
                     const TestCert* issuer) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  check(key != nullptr, "EVP_EC_gen");
  TestCert out{fileStem(dir, name) + ".crt", fileStem(dir, name) + ".key"};
  if (issuer == nullptr) {
    appendCert(out.cert_path, makeCert(name, key.get(), is_ca, nullptr, nullptr).get(), "w");
  } else {
    X509Ptr issuer_cert = readCert(issuer->cert_path);
    PkeyPtr issuer_key = readKey(issuer->key_path);
    X509Ptr cert = makeCert(name, key.get(), is_ca, issuer_cert.get(), issuer_key.get());
    appendCert(out.cert_path, cert.get(), "w");
    appendCert(out.cert_path, issuer_cert.get(), "a");  // the chain a server sends
  }
  writeKey(out.key_path, key.get());
  return out;
}

}  // namespace detail

// A self-signed leaf certificate for `name` (may be a wildcard, "*.example.com").
inline TestCert makeSelfSigned(const std::string& dir, const std::string& name) {
  return detail::make(dir, name, false, nullptr);
}

// A self-signed CA certificate (CA:TRUE); its cert_path is the trust anchor for clients.
inline TestCert makeCa(const std::string& dir, const std::string& name) {
  return detail::make(dir, name, true, nullptr);
}

// A leaf for `name` signed by `ca`; its cert_path holds the leaf then the CA certificate.
inline TestCert makeCaSigned(const std::string& dir, const std::string& name, const TestCert& ca) {
  return detail::make(dir, name, false, &ca);
}

}  // namespace fiberlb::net::tls::testing
