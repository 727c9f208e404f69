import struct, json, sys
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
def rotl(v,c): return ((v<<c)&0xffffffff)|(v>>(32-c))
def qr(s,a,b,c,d):
    s[a]=(s[a]+s[b])&0xffffffff; s[d]=rotl(s[d]^s[a],16)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]=rotl(s[b]^s[c],12)
    s[a]=(s[a]+s[b])&0xffffffff; s[d]=rotl(s[d]^s[a],8)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]=rotl(s[b]^s[c],7)
def hchacha(key, n16):
    s=list(struct.unpack('<4I',b'expand 32-byte k'))+list(struct.unpack('<8I',key))+list(struct.unpack('<4I',n16))
    for _ in range(10):
        qr(s,0,4,8,12);qr(s,1,5,9,13);qr(s,2,6,10,14);qr(s,3,7,11,15)
        qr(s,0,5,10,15);qr(s,1,6,11,12);qr(s,2,7,8,13);qr(s,3,4,9,14)
    return struct.pack('<8I',*(s[0:4]+s[12:16]))
def seal(key, profile, nonce, plain):
    magic = b"SYMBTOK2" if profile is not None else b"SYMBTOK1"
    aad = magic + (b"\0"+profile.encode() if profile is not None else b"")
    sub = hchacha(key, nonce[:16])
    ct = ChaCha20Poly1305(sub).encrypt(b"\0\0\0\0"+nonce[16:], plain, aad)
    return magic + nonce + ct
key = bytes([0x42])*32
tokens = {"access_token":"eyJhbGciOiJFZERTQSIsImtpZCI6ImVkIiwidHlwIjoiYXQrand0In0.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS5jb20ifQ.c2ln",
          "refresh_token":"AQABAgMEBQYHCAkKCwwNDg8AAAAAAAAAKtcckgVvqh8cz3ETWaQb9Y-Urt11Pver-ERsAbhTCUUm",
          "session_id":"AAECAwQFBgcICQoLDA0ODw","expires_in":900,
          "obtained":{"boot_id":"6a1c4f0e-8f6e-4a59-9d0e-2b1e6c1d2e3f","since_boot_ms":123456789}}
plain = json.dumps(tokens, separators=(',',':')).encode()
open('client_records/file-record','wb').write(seal(key,None,bytes(range(24)),plain))
open('client_records/row-record-default','wb').write(seal(key,"default",bytes(range(24,48)),plain))
t2 = dict(tokens); t2["obtained"]=None; t2["expires_in"]=18446744073709551615
open('client_records/plain-tokens-to-seal','wb').write(b"\x01\x02"+json.dumps(t2).encode())
