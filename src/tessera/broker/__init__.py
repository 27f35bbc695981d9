"""The token broker: Tessera's app server for the STS direct-transfer pattern.

Authenticates app users (API keys, OIDC/JWT), picks a named policy template, fills it safely,
calls STS AssumeRole with the app server's RAM-user AccessKey (Tessera's STS or Alibaba
Cloud's), caches the token per user and template, rate-limits, audits every issued token,
and answers in the JSON of ``credentials_uri`` providers or of the OSS mobile SDKs.

    config.py      broker.toml → BrokerSettings (frozen, validated at start-up)
    templates.py   PURE: template + values → session policy; RoleSessionName
    auth.py        API keys (SHA-256 at rest) and JWT (PyJWT, JWKS file or URL)
    ratelimit.py   token buckets on an injected clock
    cache.py       per-(user, template, values) token cache, single flight
    sts_client.py  AssumeRole through alibabacloud-sts20150401; STS errors → StsError
    audit.py       JSON-lines audit trail of issued tokens
    service.py     the order of checks for one token request
    app.py         Starlette routes, the two response formats, error → HTTP status
    server.py      wiring and serving (standalone or inside ``tessera serve``)
"""
