// srtp-crypto: SRTP's per-packet cipher and tag (RFC 3711 §4.1.1 AES-CM, §4.2.1 HMAC-SHA1) on the OpenSSL that
// Node.js itself carries, for the media relay's SDES and DTLS-SRTP legs.
//
// Why: in JavaScript one SRTP packet cost an AES-ECB `update` through node:crypto (a new Buffer with its own
// backing store per packet, freed by the garbage collector) and an HMAC-SHA1 in JavaScript, ~4 µs alone and
// ~10–15 µs more per packet than plain RTP in the relay (docs/performance.md, "SDES-SRTP bridged to plain RTP").
// Here a key keeps its AES-CTR context and the HMAC's inner and outer SHA-1 states hashed once; a packet is one
// call that writes into the caller's buffer and allocates nothing.
//
// The packet-level logic (ROC, index estimation, the replay window, the SRTCP index) stays in
// src/media/srtp/srtp-session.ts; this file holds only the two primitives, and the JavaScript ones in
// src/media/srtp/srtp-key.ts compute the same bytes (test/media/srtp-engines.test.ts holds them to each other).
//
// Interface (N-API; OpenSSL's symbols come from the node binary, which exports them for addons):
//   key(cipherKey: 16 bytes, salt: 14 bytes, authKey: 20 bytes) -> an opaque key
//   crypt(key, ssrc, indexHigh16, indexLow32, src, srcStart, length, out, outStart)
//       out[outStart, +length) = src[srcStart, +length) XOR the keystream of IV = (salt·2^16) XOR (SSRC·2^64)
//       XOR (index·2^16) (§4.1.1); out may be src
//   sign(key, data, length, roc, out, outStart, tagLength)
//       out[outStart, +tagLength) = the first tagLength bytes of HMAC-SHA1(authKey, data[0, length) || ROC)
//       (§4.2: the ROC as 4 bytes big-endian; roc < 0: nothing appended, SRTCP)
//   verify(key, data, length, roc, tagLength) -> whether data[length, +tagLength) is that tag (constant time)
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>

namespace {

constexpr size_t kCipherKey = 16;
constexpr size_t kSalt = 14;
constexpr size_t kAuthKey = 20;
constexpr size_t kSha1Block = 64;
constexpr size_t kSha1Digest = 20;

struct Key {
  EVP_CIPHER_CTX* aes = nullptr;
  // RFC 2104: SHA-1 over (K XOR ipad) and over (K XOR opad), each one block, folded in once per key.
  SHA_CTX inner;
  SHA_CTX outer;
  unsigned char salt[kSalt];
};

void FreeKey(napi_env, void* data, void*) {
  Key* key = static_cast<Key*>(data);
  EVP_CIPHER_CTX_free(key->aes);
  OPENSSL_cleanse(key, sizeof(Key));
  delete key;
}

napi_value Throw(napi_env env, const char* message) {
  napi_throw_range_error(env, "ERR_VOXGATE_SRTP_NATIVE", message);
  return nullptr;
}

bool Bytes(napi_env env, napi_value value, unsigned char** data, size_t* length) {
  bool is = false;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  size_t count;
  void* raw;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, value, &type, &count, &raw, &buffer, &offset) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  *data = static_cast<unsigned char*>(raw);
  *length = count;
  return true;
}

bool Int(napi_env env, napi_value value, int64_t* out) {
  return napi_get_value_int64(env, value, out) == napi_ok;
}

bool KeyOf(napi_env env, napi_value value, Key** key) {
  void* data = nullptr;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == nullptr) return false;
  *key = static_cast<Key*>(data);
  return true;
}

// [start, start + length) lies within a buffer of `size` bytes.
bool Within(int64_t start, int64_t length, size_t size) {
  return start >= 0 && length >= 0 && static_cast<uint64_t>(start) + static_cast<uint64_t>(length) <= size;
}

template <size_t N>
bool Args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  return napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) == napi_ok && argc == N;
}

napi_value MakeKey(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  unsigned char *cipherKey, *salt, *authKey;
  size_t cipherLength, saltLength, authLength;
  if (!Args(env, info, argv) || !Bytes(env, argv[0], &cipherKey, &cipherLength) ||
      !Bytes(env, argv[1], &salt, &saltLength) || !Bytes(env, argv[2], &authKey, &authLength) ||
      cipherLength != kCipherKey || saltLength != kSalt || authLength != kAuthKey)
    return Throw(env, "key(cipherKey: 16 bytes, salt: 14 bytes, authKey: 20 bytes)");
  Key* key = new Key();
  key->aes = EVP_CIPHER_CTX_new();
  if (key->aes == nullptr || EVP_EncryptInit_ex(key->aes, EVP_aes_128_ctr(), nullptr, cipherKey, nullptr) != 1) {
    EVP_CIPHER_CTX_free(key->aes);
    delete key;
    return Throw(env, "OpenSSL refused the AES-128-CTR key");
  }
  unsigned char pad[kSha1Block];
  for (int pass = 0; pass < 2; pass++) {
    const unsigned char byte = pass == 0 ? 0x36 : 0x5c;
    SHA_CTX* state = pass == 0 ? &key->inner : &key->outer;
    memset(pad, byte, sizeof pad);
    for (size_t i = 0; i < kAuthKey; i++) pad[i] = authKey[i] ^ byte;
    SHA1_Init(state);
    SHA1_Update(state, pad, sizeof pad);
  }
  OPENSSL_cleanse(pad, sizeof pad);
  memcpy(key->salt, salt, kSalt);
  napi_value external;
  if (napi_create_external(env, key, FreeKey, nullptr, &external) != napi_ok) {
    FreeKey(env, key, nullptr);
    return Throw(env, "could not hold the key");
  }
  return external;
}

napi_value Crypt(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  Key* key;
  int64_t ssrc, high, low, srcStart, length, outStart;
  unsigned char *src, *out;
  size_t srcSize, outSize;
  if (!Args(env, info, argv) || !KeyOf(env, argv[0], &key) || !Int(env, argv[1], &ssrc) ||
      !Int(env, argv[2], &high) || !Int(env, argv[3], &low) || !Bytes(env, argv[4], &src, &srcSize) ||
      !Int(env, argv[5], &srcStart) || !Int(env, argv[6], &length) || !Bytes(env, argv[7], &out, &outSize) ||
      !Int(env, argv[8], &outStart) || !Within(srcStart, length, srcSize) || !Within(outStart, length, outSize) ||
      length > INT32_MAX)
    return Throw(env, "crypt(key, ssrc, indexHigh, indexLow, src, srcStart, length, out, outStart) out of range");
  // §4.1.1: IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16), the 48-bit index i in bytes 8..13.
  unsigned char iv[16];
  memcpy(iv, key->salt, kSalt);
  iv[14] = 0;
  iv[15] = 0;
  const uint32_t s = static_cast<uint32_t>(ssrc);
  const uint32_t h = static_cast<uint32_t>(high) & 0xffff;
  const uint32_t l = static_cast<uint32_t>(low);
  iv[4] ^= s >> 24;
  iv[5] ^= (s >> 16) & 0xff;
  iv[6] ^= (s >> 8) & 0xff;
  iv[7] ^= s & 0xff;
  iv[8] ^= h >> 8;
  iv[9] ^= h & 0xff;
  iv[10] ^= l >> 24;
  iv[11] ^= (l >> 16) & 0xff;
  iv[12] ^= (l >> 8) & 0xff;
  iv[13] ^= l & 0xff;
  int written = 0;
  // A new IV on the same key: OpenSSL resets the counter and keeps the key schedule.
  if (EVP_EncryptInit_ex(key->aes, nullptr, nullptr, nullptr, iv) != 1 ||
      EVP_EncryptUpdate(key->aes, out + outStart, &written, src + srcStart, static_cast<int>(length)) != 1 ||
      written != length)
    return Throw(env, "OpenSSL's AES-128-CTR failed");
  return nullptr;
}

// HMAC-SHA1(authKey, data[0, length) || ROC) into digest.
void Mac(const Key* key, const unsigned char* data, size_t length, int64_t roc, unsigned char* digest) {
  SHA_CTX state = key->inner;
  SHA1_Update(&state, data, length);
  if (roc >= 0) {
    const uint32_t r = static_cast<uint32_t>(roc);
    const unsigned char bytes[4] = {static_cast<unsigned char>(r >> 24), static_cast<unsigned char>(r >> 16),
                                    static_cast<unsigned char>(r >> 8), static_cast<unsigned char>(r)};
    SHA1_Update(&state, bytes, sizeof bytes);
  }
  unsigned char inner[kSha1Digest];
  SHA1_Final(inner, &state);
  state = key->outer;
  SHA1_Update(&state, inner, sizeof inner);
  SHA1_Final(digest, &state);
}

napi_value Sign(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  Key* key;
  unsigned char *data, *out;
  size_t dataSize, outSize;
  int64_t length, roc, outStart, tagLength;
  if (!Args(env, info, argv) || !KeyOf(env, argv[0], &key) || !Bytes(env, argv[1], &data, &dataSize) ||
      !Int(env, argv[2], &length) || !Int(env, argv[3], &roc) || !Bytes(env, argv[4], &out, &outSize) ||
      !Int(env, argv[5], &outStart) || !Int(env, argv[6], &tagLength) || !Within(0, length, dataSize) ||
      tagLength < 1 || tagLength > static_cast<int64_t>(kSha1Digest) || !Within(outStart, tagLength, outSize))
    return Throw(env, "sign(key, data, length, roc, out, outStart, tagLength) out of range");
  unsigned char digest[kSha1Digest];
  Mac(key, data, static_cast<size_t>(length), roc, digest);
  memcpy(out + outStart, digest, static_cast<size_t>(tagLength));
  return nullptr;
}

napi_value Verify(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  Key* key;
  unsigned char* data;
  size_t dataSize;
  int64_t length, roc, tagLength;
  if (!Args(env, info, argv) || !KeyOf(env, argv[0], &key) || !Bytes(env, argv[1], &data, &dataSize) ||
      !Int(env, argv[2], &length) || !Int(env, argv[3], &roc) || !Int(env, argv[4], &tagLength) ||
      tagLength < 1 || tagLength > static_cast<int64_t>(kSha1Digest) || length < 0 ||
      !Within(length, tagLength, dataSize))
    return Throw(env, "verify(key, data, length, roc, tagLength) out of range");
  unsigned char digest[kSha1Digest];
  Mac(key, data, static_cast<size_t>(length), roc, digest);
  napi_value result;
  napi_get_boolean(env, CRYPTO_memcmp(digest, data + length, static_cast<size_t>(tagLength)) == 0, &result);
  return result;
}

napi_value Module(napi_env env, napi_value exports) {
  const napi_property_descriptor methods[] = {
      {"key", nullptr, MakeKey, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"crypt", nullptr, Crypt, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"sign", nullptr, Sign, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"verify", nullptr, Verify, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof methods / sizeof methods[0], methods);
  return exports;
}

}  // namespace

NAPI_MODULE(srtp_crypto, Module)
