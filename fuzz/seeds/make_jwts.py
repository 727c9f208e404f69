import json, base64, time
from cryptography.hazmat.primitives.asymmetric import ed25519, ec, rsa, padding, utils
from cryptography.hazmat.primitives import hashes, hmac as chmac
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b'=').decode()
now = 1767225600
claims = {"iss":"https://auth.example.com","sub":"Zm9vYmFyYmF6cXV4cXV1eA","aud":"api.example.com","exp":now+900,"iat":now,
          "jti":"AAECAwQFBgcICQoLDA0ODw","sid":"EBESExQVFhcYGRobHB0eHw","client_id":"symbolon","preferred_username":"alice"}
def tok(alg, kid, sign, typ="at+jwt"):
    h = {"alg":alg,"typ":typ,"kid":kid}
    msg = b64(json.dumps(h,separators=(',',':')).encode())+"."+b64(json.dumps(claims,separators=(',',':')).encode())
    return msg+"."+b64(sign(msg.encode()))
ed = ed25519.Ed25519PrivateKey.generate()
es = ec.generate_private_key(ec.SECP256R1())
rs = rsa.generate_private_key(65537, 2048)
def es_sign(m):
    r,s = utils.decode_dss_signature(es.sign(m, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32,'big')+s.to_bytes(32,'big')
def hs_sign(m):
    h = chmac.HMAC(b"k"*32, hashes.SHA256()); h.update(m); return h.finalize()
out = {
 "jwt-eddsa": tok("EdDSA","ed",ed.sign),
 "jwt-es256": tok("ES256","es",es_sign),
 "jwt-rs256": tok("RS256","rs",lambda m: rs.sign(m, padding.PKCS1v15(), hashes.SHA256())),
 "jwt-hs256": tok("HS256","hs",hs_sign),
 "jwt-none": tok("none","ed",lambda m: b""),
 "jwt-confused-hs256-on-ed": tok("HS256","ed",hs_sign, typ="JWT"),
}
for k,v in out.items(): open('corpus/access_token/'+k,'w').write(v)
