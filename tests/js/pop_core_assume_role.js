'use strict';
// Drives Tessera's STS API with the official Node client @alicloud/pop-core (V1 signatures).
//
// Environment:
//   TESSERA_ENDPOINT                  http://127.0.0.1:PORT (pop-core needs the scheme)
//   ALIBABA_CLOUD_ACCESS_KEY_ID       the caller's AccessKeyId
//   ALIBABA_CLOUD_ACCESS_KEY_SECRET   its secret
//   ALIBABA_CLOUD_SECURITY_TOKEN      optional STS token of the caller
//   ROLE_ARN, ROLE_SESSION_NAME       optional: also AssumeRole, then GetCallerIdentity with
//                                     the new credentials
//   POLICY, DURATION_SECONDS          optional AssumeRole parameters
//   METHOD                            GET (pop-core's default) or POST (form body)
//
// Prints one JSON object: {"popCore": version, "caller": …, "assumed": …, "session": …}, or
// {"popCore": version, "error": {"code", "name", "message", "statusCode", "step"}} when a
// call fails (the exit status is 0 either way; only a crash of this script exits non-zero).

const RPCClient = require('@alicloud/pop-core').RPCClient;
const popCoreVersion = require('@alicloud/pop-core/package.json').version;

function client(accessKeyId, accessKeySecret, securityToken) {
  return new RPCClient({
    endpoint: process.env.TESSERA_ENDPOINT,
    apiVersion: '2015-04-01',
    accessKeyId,
    accessKeySecret,
    securityToken,
    opts: { timeout: 10000 },
  });
}

async function main() {
  const env = process.env;
  const method = (env.METHOD || 'GET').toUpperCase();
  const opts = method === 'POST' ? { method: 'POST', timeout: 10000 } : { timeout: 10000 };
  const out = { popCore: popCoreVersion, method };
  let step = 'GetCallerIdentity';
  try {
    const caller = client(
      env.ALIBABA_CLOUD_ACCESS_KEY_ID,
      env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
      env.ALIBABA_CLOUD_SECURITY_TOKEN || undefined,
    );
    out.caller = await caller.request('GetCallerIdentity', {}, opts);
    if (env.ROLE_ARN) {
      step = 'AssumeRole';
      const params = { RoleArn: env.ROLE_ARN, RoleSessionName: env.ROLE_SESSION_NAME || 'pop-core' };
      if (env.POLICY) params.Policy = env.POLICY;
      if (env.DURATION_SECONDS) params.DurationSeconds = Number(env.DURATION_SECONDS);
      out.assumed = await caller.request('AssumeRole', params, opts);
      step = 'GetCallerIdentity(session)';
      const c = out.assumed.Credentials;
      const session = client(c.AccessKeyId, c.AccessKeySecret, c.SecurityToken);
      out.session = await session.request('GetCallerIdentity', {}, opts);
    }
  } catch (err) {
    out.error = {
      step,
      code: err.code,
      name: err.name,
      message: err.message,
      statusCode: err.entry && err.entry.response ? err.entry.response.statusCode : undefined,
    };
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(2);
});
