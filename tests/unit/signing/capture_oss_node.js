// Usage: node capture_oss_node.js <case> <port> <config json>; prints what ali-oss signed.
// NODE_PATH must point at the node_modules holding ali-oss (gen_oss_vectors.py sets it).
const [kase, port, configJson] = process.argv.slice(2);
const C = JSON.parse(configJson);
const T = C.now * 1000;
const RealDate = Date;
class FixedDate extends RealDate {
  constructor(...a) { if (a.length === 0) super(T); else super(...a); }
  static now() { return T; }
}
global.Date = FixedDate;
const OSS = require('ali-oss');
const signUtils = require('ali-oss/lib/common/signUtils');  // the module client.js calls
const log = {};
const stages = [
  ['buildCanonicalString', 'string_to_sign'],
  ['getCanonicalRequest', 'canonical_request'],
  ['getStringToSign', 'string_to_sign'],
];
for (const [name, field] of stages) {
  const original = signUtils[name];
  signUtils[name] = function (...args) { const r = original.apply(this, args); log[field] = r; return r; };
}
const base = { accessKeyId: C.ak, accessKeySecret: C.secret, bucket: C.bucket, region: 'oss-cn-hangzhou', timeout: 5000 };
const sts = { accessKeyId: C.sts_ak, accessKeySecret: C.sts_secret, stsToken: C.token };
const ip = `http://127.0.0.1:${port}`, host = `http://localhost:${port}`;
const cases = {
  'v1-put': () => new OSS({ ...base, endpoint: ip }).put(C.key1, Buffer.from('hello'), { headers: { 'x-oss-meta-author': 'me' } }),
  'v1-sts-upload-part': () => new OSS({ ...base, ...sts, endpoint: ip })._uploadPart(C.key2, '0004B9894A22E5B1888A1E29F823****', 1, { content: Buffer.from('part'), size: 4 }),
  'v4-put': () => new OSS({ ...base, endpoint: ip, authorizationV4: true }).put(C.key1, Buffer.from('hello'), { headers: { 'x-oss-meta-author': 'me' } }),
  'v4-put-additional': () => new OSS({ ...base, endpoint: ip, authorizationV4: true }).put(C.key2, Buffer.from('hello'), { headers: { 'Content-Disposition': 'inline' }, additionalHeaders: ['content-disposition', 'x-oss-meta-ignored'] }),
  'v4-sts-list': () => new OSS({ ...base, ...sts, endpoint: ip, authorizationV4: true }).listV2({ prefix: 'cap/', delimiter: '/', 'max-keys': 10, 'continuation-token': 'tok/1' }),
  'v1-presign-sts': async () => ({ presigned: new OSS({ ...base, ...sts, endpoint: host }).signatureUrl(C.key2, { expires: 3600, response: { 'content-type': 'text/html' } }) }),
  'v4-presign-sts': async () => ({ presigned: await new OSS({ ...base, ...sts, endpoint: host }).signatureUrlV4('GET', 3600, { queries: { 'response-content-type': 'text/html' } }, C.key1) }),
};
(async () => {
  let out = {};
  try { out = (await cases[kase]()) || {}; } catch (e) { /* reply parsing; request captured */ }
  process.stdout.write(JSON.stringify({ url: out.presigned || null, ...log }));
})();
