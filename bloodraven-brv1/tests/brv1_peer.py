#!/usr/bin/env python3
"""An independent BRV1 implementation, written from the reference spec (formats §1), for the
interoperability test in interop.rs. It uses the `cryptography` package for HKDF-SHA256 and
AES-256-GCM and follows the reference decoder literally: for each record, try the non-final
nonce, then the final nonce, and require the end of input after the final chunk.

    brv1_peer.py encrypt PASSFILE IN OUT [CHUNK_LOG2]   # random salt and nonce prefix
    brv1_peer.py decrypt PASSFILE IN OUT                # exit 1 with a message on any failure
    brv1_peer.py selftest FIXTURE_DIR                   # the shared known-answer vectors
"""

import json
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.exceptions import InvalidTag

MAGIC = b"BRV1"
INFO = b"bloodraven-backup-encryption-v1"
TAG = 16


class Brv1Error(Exception):
    pass


def read_passphrase(path):
    with open(path, "rb") as f:
        data = f.read()
    data = data.strip(b"\n\r \t")
    if not data:
        raise Brv1Error("passphrase file %s is empty" % path)
    return data


def derive_key(passphrase, salt):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=INFO).derive(passphrase)


def nonce(prefix, counter, final):
    if counter >= 1 << 24:
        raise Brv1Error("plaintext exceeds single-file chunk budget")
    return prefix + counter.to_bytes(3, "big") + (b"\x01" if final else b"\x00")


def encrypt(passphrase, plaintext, chunk_log2=16, salt=None, prefix=None):
    salt = os.urandom(16) if salt is None else salt
    prefix = os.urandom(8) if prefix is None else prefix
    aead = AESGCM(derive_key(passphrase, salt))
    size = 1 << chunk_log2
    out = [MAGIC, bytes([1, 1]), struct.pack(">H", chunk_log2), salt, prefix]
    count = max(1, -(-len(plaintext) // size))
    for c in range(count):
        chunk = plaintext[c * size:(c + 1) * size]
        out.append(aead.encrypt(nonce(prefix, c, c == count - 1), chunk, None))
    return b"".join(out)


def decrypt(passphrase, data):
    if len(data) < 32 or data[:4] != MAGIC:
        raise Brv1Error("input is not an encrypted BRV1 stream")
    if data[4] != 1:
        raise Brv1Error("unsupported wire version")
    if data[5] != 1:
        raise Brv1Error("unsupported algorithm")
    (chunk_log2,) = struct.unpack(">H", data[6:8])
    if not 1 <= chunk_log2 <= 24:
        raise Brv1Error("chunk size exceeds MaxChunkLog2")
    salt, prefix = data[8:24], data[24:32]
    aead = AESGCM(derive_key(passphrase, salt))
    record = (1 << chunk_log2) + TAG
    pos, counter, out = 32, 0, []
    while True:
        sealed = data[pos:pos + record]
        if len(sealed) < TAG:
            raise Brv1Error("ciphertext truncated before final chunk")
        pos += len(sealed)
        try:
            out.append(aead.decrypt(nonce(prefix, counter, False), sealed, None))
            counter += 1
            continue
        except InvalidTag:
            pass
        try:
            out.append(aead.decrypt(nonce(prefix, counter, True), sealed, None))
        except InvalidTag:
            raise Brv1Error("chunk %d: message authentication failed" % counter)
        if pos != len(data):
            raise Brv1Error("unexpected trailing data after final chunk")
        return b"".join(out)


def selftest(fixtures):
    with open(os.path.join(fixtures, "index.json")) as f:
        vectors = json.load(f)
    for v in vectors:
        base = os.path.join(fixtures, v["name"])
        passphrase = read_passphrase(base + ".pass")
        with open(base + ".plain", "rb") as f:
            plain = f.read()
        with open(base + ".brv1", "rb") as f:
            sealed = f.read()
        assert derive_key(passphrase, bytes.fromhex(v["salt"])).hex() == v["key"], v["name"]
        again = encrypt(passphrase, plain, v["chunk_log2"], bytes.fromhex(v["salt"]), bytes.fromhex(v["nonce_prefix"]))
        assert again == sealed, v["name"]
        assert decrypt(passphrase, sealed) == plain, v["name"]
    print("%d vectors ok" % len(vectors))


def main(argv):
    if len(argv) >= 2 and argv[1] == "selftest":
        selftest(argv[2])
        return 0
    if len(argv) not in (5, 6) or argv[1] not in ("encrypt", "decrypt"):
        print(__doc__, file=sys.stderr)
        return 2
    passphrase = read_passphrase(argv[2])
    with open(argv[3], "rb") as f:
        data = f.read()
    try:
        if argv[1] == "encrypt":
            result = encrypt(passphrase, data, int(argv[5]) if len(argv) == 6 else 16)
        else:
            result = decrypt(passphrase, data)
    except Brv1Error as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    with open(argv[4], "wb") as f:
        f.write(result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
