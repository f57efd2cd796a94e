#pragma once
// The protocol settings every fiberlb TLS context shares, client or server side.

namespace fiberlb::net::tls {

// Mozilla "intermediate" for TLS 1.2: ECDHE key exchange and AEAD ciphers only. Its DHE
// suites are left out: we ship no DH parameters. TLS 1.3 keeps OpenSSL's default suites
// (AES-GCM and ChaCha20-Poly1305), which are exactly Mozilla's.
inline constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
inline constexpr const char* kGroups = "X25519:prime256v1:secp384r1";

}  // namespace fiberlb::net::tls
