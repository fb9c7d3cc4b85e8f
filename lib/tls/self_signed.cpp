// Self-signed certificate generation (see self_signed.hpp).
//
// The steps: make a P-256 key; let wc_MakeCert encode the to-be-signed certificate (names,
// validity, public key); add our extensions to it (a small DER splice, because the recipe
// build of wolfSSL lacks WOLFSSL_ALT_NAMES and WOLFSSL_CERT_EXT, so it can write neither SANs
// nor key identifiers); let wc_SignCert sign it; convert the certificate and the key to PEM.
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "tls/self_signed.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <ctime>
#include <optional>
#include <string_view>

#include "base/errors.hpp"

namespace anytls::tls {

namespace {

using Bytes = std::vector<std::uint8_t>;

// RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
constexpr int kValidityDays = 365;
constexpr std::time_t kBackdateSeconds = 3600;  // accepted by clients whose clock is a bit behind
constexpr std::size_t kCommonNameMax = CTC_NAME_SIZE - 1;

// --- DER, just enough to build two extensions and re-wrap the TBS certificate ----------------

void append_length(Bytes& out, std::size_t length) {
    if (length < 0x80) {
        out.push_back(static_cast<std::uint8_t>(length));
        return;
    }
    std::uint8_t digits[sizeof(std::size_t)];
    int count = 0;
    for (std::size_t rest = length; rest != 0; rest >>= 8)
        digits[count++] = static_cast<std::uint8_t>(rest & 0xff);
    out.push_back(static_cast<std::uint8_t>(0x80 | count));
    while (count > 0) out.push_back(digits[--count]);
}

Bytes tlv(std::uint8_t tag, const Bytes& content) {
    Bytes out{tag};
    append_length(out, content.size());
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& part : parts) out.insert(out.end(), part.begin(), part.end());
    return out;
}

struct DerElement {
    std::size_t header = 0;  // tag + length bytes
    std::size_t length = 0;  // content bytes
};

// The element starting at data[offset], or nothing when it does not fit in `size`.
std::optional<DerElement> read_element(const std::uint8_t* data, std::size_t size,
                                       std::size_t offset) {
    if (offset + 2 > size) return std::nullopt;
    std::size_t index = offset + 1;
    std::size_t length = data[index++];
    if (length & 0x80) {
        const std::size_t count = length & 0x7f;
        if (count == 0 || count > 4 || index + count > size) return std::nullopt;
        length = 0;
        for (std::size_t i = 0; i < count; ++i) length = (length << 8) | data[index++];
    }
    if (length > size - index) return std::nullopt;
    return DerElement{index - offset, length};
}

// Appends `extensions` (each a DER Extension) to a TBSCertificate: into its [3] extensions
// field when wc_MakeCert wrote one (basicConstraints), else as a new [3] field at the end.
std::optional<Bytes> add_extensions(const std::uint8_t* tbs, std::size_t size,
                                    const Bytes& extensions) {
    auto outer = read_element(tbs, size, 0);
    if (!outer || tbs[0] != 0x30 || outer->header + outer->length != size) return std::nullopt;
    Bytes fields;    // every field before [3]
    Bytes existing;  // the Extension elements already in [3]
    std::size_t offset = outer->header;
    while (offset < size) {
        auto element = read_element(tbs, size, offset);
        if (!element) return std::nullopt;
        const std::size_t end = offset + element->header + element->length;
        if (tbs[offset] == 0xa3) {
            // [3] EXPLICIT Extensions: one SEQUENCE OF Extension.
            const std::size_t inner_offset = offset + element->header;
            auto inner = read_element(tbs, end, inner_offset);
            if (!inner || tbs[inner_offset] != 0x30) return std::nullopt;
            const std::uint8_t* first = tbs + inner_offset + inner->header;
            existing.assign(first, first + inner->length);
        } else {
            fields.insert(fields.end(), tbs + offset, tbs + end);
        }
        offset = end;
    }
    const Bytes all_extensions = concat({existing, extensions});
    return tlv(0x30, concat({fields, tlv(0xa3, tlv(0x30, all_extensions))}));
}

// --- the names ----------------------------------------------------------------------------

// A host name for a DNS SAN: labels of letters, digits, '-' and '_', an optional leading
// "*." wildcard, at most 253 characters.
bool valid_dns_name(std::string_view name) {
    if (name.empty() || name.size() > 253) return false;
    if (name.substr(0, 2) == "*.") name.remove_prefix(2);
    std::size_t label = 0;
    for (char c : name) {
        if (c == '.') {
            if (label == 0) return false;
            label = 0;
            continue;
        }
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok || ++label > 63) return false;
    }
    return label > 0;
}

// GeneralNames: dNSName [2] IA5String, iPAddress [7] OCTET STRING (4 or 16 bytes).
Result<Bytes> general_names(const std::vector<std::string>& names) {
    Bytes out;
    for (const std::string& name : names) {
        std::string_view host = name;
        if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
        const std::string literal(host);
        std::uint8_t address[16];
        if (inet_pton(AF_INET, literal.c_str(), address) == 1) {
            out = concat({out, tlv(0x87, Bytes(address, address + 4))});
        } else if (inet_pton(AF_INET6, literal.c_str(), address) == 1) {
            out = concat({out, tlv(0x87, Bytes(address, address + 16))});
        } else if (valid_dns_name(host)) {
            out = concat({out, tlv(0x82, Bytes(host.begin(), host.end()))});
        } else {
            return make_error(
                errc::invalid_argument,
                fmt::format(
                    "self-signed certificate: \"{}\" is neither a host name nor an IP address",
                    name));
        }
    }
    return out;
}

// An Extension: SEQUENCE { OID 2.5.29.<id>, [critical TRUE], OCTET STRING { value } }.
Bytes extension(std::uint8_t id, bool critical, const Bytes& value) {
    const Bytes oid{0x06, 0x03, 0x55, 0x1d, id};
    const Bytes flag = critical ? Bytes{0x01, 0x01, 0xff} : Bytes{};
    return tlv(0x30, concat({oid, flag, tlv(0x04, value)}));
}

// The extensions of the certificate (see self_signed.hpp for why each is there).
Bytes certificate_extensions(const Bytes& general_names, const Bytes& key_id) {
    const Bytes ca_true{0x30, 0x03, 0x01, 0x01, 0xff};  // BasicConstraints { cA TRUE }
    const Bytes key_usage{0x03, 0x02, 0x02, 0x84};      // digitalSignature, keyCertSign
    return concat({
        extension(0x13, true, ca_true),                        // basicConstraints
        extension(0x0f, true, key_usage),                      // keyUsage
        extension(0x11, false, tlv(0x30, general_names)),      // subjectAltName
        extension(0x0e, false, tlv(0x04, key_id)),             // subjectKeyIdentifier
        extension(0x23, false, tlv(0x30, tlv(0x80, key_id))),  // authorityKeyIdentifier
    });
}

// A Time as the TLV wolfSSL's Cert.beforeDate / afterDate hold.
bool set_time(std::time_t when, byte* out, int* out_size) {
    std::tm parts{};
    if (gmtime_r(&when, &parts) == nullptr) return false;
    char text[32];
    std::size_t length = 0;
    byte tag = 0;
    if (parts.tm_year + 1900 < 2050) {
        tag = 0x17;  // UTCTime YYMMDDHHMMSSZ
        length = std::strftime(text, sizeof text, "%y%m%d%H%M%SZ", &parts);
    } else {
        tag = 0x18;  // GeneralizedTime YYYYMMDDHHMMSSZ
        length = std::strftime(text, sizeof text, "%Y%m%d%H%M%SZ", &parts);
    }
    if (length == 0 || length + 2 > CTC_DATE_SIZE) return false;
    out[0] = tag;
    out[1] = static_cast<byte>(length);
    std::memcpy(out + 2, text, length);
    *out_size = static_cast<int>(length + 2);
    return true;
}

// --- wolfCrypt -----------------------------------------------------------------------------

Error crypt_error(std::string_view step, int code) {
    return make_error(errc::tls_config, fmt::format("self-signed certificate: {} failed ({})", step,
                                                    wc_GetErrorString(code)));
}

// Owns the RNG and the key, and wipes what held the private key.
struct KeyMaterial {
    WC_RNG rng{};
    ecc_key key{};
    bool rng_ready = false;
    bool key_ready = false;
    ~KeyMaterial() {
        if (key_ready) wc_ecc_free(&key);
        if (rng_ready) wc_FreeRng(&rng);
    }
};

Result<std::string> to_pem(const Bytes& der, int type) {
    const int size = wc_DerToPem(der.data(), static_cast<word32>(der.size()), nullptr, 0, type);
    if (size <= 0) return crypt_error("PEM encoding", size);
    std::string pem(static_cast<std::size_t>(size), '\0');
    const int written =
        wc_DerToPem(der.data(), static_cast<word32>(der.size()),
                    reinterpret_cast<byte*>(pem.data()), static_cast<word32>(pem.size()), type);
    if (written <= 0) return crypt_error("PEM encoding", written);
    pem.resize(static_cast<std::size_t>(written));
    while (!pem.empty() && pem.back() == '\0') pem.pop_back();
    return pem;
}

}  // namespace

Result<SelfSignedCertificate> generate_self_signed(const std::vector<std::string>& names) {
    if (names.empty())
        return make_error(errc::invalid_argument, "self-signed certificate: no names given");
    auto san = general_names(names);
    if (!san) return std::move(san).error();

    KeyMaterial material;
    int rc = wc_InitRng(&material.rng);
    if (rc != 0) return crypt_error("random number generator", rc);
    material.rng_ready = true;
    rc = wc_ecc_init(&material.key);
    if (rc != 0) return crypt_error("key initialisation", rc);
    material.key_ready = true;
    rc = wc_ecc_make_key_ex(&material.rng, 32, &material.key, ECC_SECP256R1);
    if (rc != 0) return crypt_error("P-256 key generation", rc);
#ifdef ECC_TIMING_RESISTANT
    wc_ecc_set_rng(&material.key, &material.rng);
#endif

    // subjectKeyIdentifier: RFC 7093 method 1, the leftmost 160 bits of the SHA-256 of the
    // subjectPublicKey bits (the uncompressed point).
    byte point[1 + 2 * 66];
    word32 point_size = sizeof point;
    rc = wc_ecc_export_x963(&material.key, point, &point_size);
    if (rc != 0) return crypt_error("public key export", rc);
    byte key_digest[WC_SHA256_DIGEST_SIZE];
    rc = wc_Sha256Hash(point, point_size, key_digest);
    if (rc != 0) return crypt_error("SHA-256", rc);
    const Bytes key_id(key_digest, key_digest + 20);

    Cert cert;
    rc = wc_InitCert(&cert);
    if (rc != 0) return crypt_error("certificate initialisation", rc);
    cert.sigType = CTC_SHA256wECDSA;
    cert.isCA = 0;  // wolfSSL would write a non-critical basicConstraints; ours is critical
    cert.selfSigned = 1;
    cert.daysValid = kValidityDays;
    std::strncpy(cert.subject.commonName, names.front().c_str(), kCommonNameMax);
    cert.subject.commonName[kCommonNameMax] = '\0';
    std::strncpy(cert.subject.org, "anytls self-signed", CTC_NAME_SIZE - 1);
    const std::time_t now = std::time(nullptr);
    if (!set_time(now - kBackdateSeconds, cert.beforeDate, &cert.beforeDateSz) ||
        !set_time(now + static_cast<std::time_t>(kValidityDays) * 86400, cert.afterDate,
                  &cert.afterDateSz))
        return make_error(errc::tls_config,
                          "self-signed certificate: cannot encode the validity dates");

    // wc_MakeCert writes the TBSCertificate; wc_SignCert appends the signature in place.
    Bytes buffer(16 * 1024);
    const int body = wc_MakeCert(&cert, buffer.data(), static_cast<word32>(buffer.size()), nullptr,
                                 &material.key, &material.rng);
    if (body <= 0) return crypt_error("certificate encoding", body);
    auto tbs = add_extensions(buffer.data(), static_cast<std::size_t>(body),
                              certificate_extensions(*san, key_id));
    if (!tbs || tbs->size() + 512 > buffer.size())
        return make_error(errc::tls_config,
                          "self-signed certificate: unexpected certificate encoding from wolfSSL");
    std::copy(tbs->begin(), tbs->end(), buffer.begin());
    const int total =
        wc_SignCert(static_cast<int>(tbs->size()), CTC_SHA256wECDSA, buffer.data(),
                    static_cast<word32>(buffer.size()), nullptr, &material.key, &material.rng);
    if (total <= 0) return crypt_error("signing", total);
    const Bytes certificate_der(buffer.begin(), buffer.begin() + total);

    SelfSignedCertificate result;
    auto certificate_pem = to_pem(certificate_der, CERT_TYPE);
    if (!certificate_pem) return std::move(certificate_pem).error();
    result.certificate_pem = std::move(*certificate_pem);

    Bytes key_der(512);
    const int key_size =
        wc_EccKeyToDer(&material.key, key_der.data(), static_cast<word32>(key_der.size()));
    if (key_size <= 0) return crypt_error("private key encoding", key_size);
    key_der.resize(static_cast<std::size_t>(key_size));
    auto key_pem = to_pem(key_der, ECC_PRIVATEKEY_TYPE);
    explicit_bzero(key_der.data(), key_der.size());
    if (!key_pem) return std::move(key_pem).error();
    result.private_key_pem = std::move(*key_pem);

    byte digest[WC_SHA256_DIGEST_SIZE];
    rc = wc_Sha256Hash(certificate_der.data(), static_cast<word32>(certificate_der.size()), digest);
    if (rc != 0) return crypt_error("SHA-256", rc);
    for (std::size_t i = 0; i < sizeof digest; ++i)
        result.sha256_fingerprint += fmt::format("{}{:02X}", i == 0 ? "" : ":", digest[i]);
    return result;
}

}  // namespace anytls::tls
