// panva's openid-client as a relying party of the simulated Pro Santé Connect, as a Node developer writes it.
// Driven by test_openid_client.py: each step prints one JSON line; where a person must act (log in at the
// browser, approve on the phone, follow the logout), it waits for one JSON line on stdin.
// Environment: PSC_ISSUER, RP_CLIENT_ID, RP_CLIENT_SECRET, RP_REDIRECT_URI, WORLD_PROXY, WORLD_CA,
// RP_CLOCK_SKEW (seconds the world's clock was moved on), NATIONAL_ID.
import * as client from "openid-client";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { ProxyAgent, fetch as undiciFetch } from "undici";

const env = process.env;
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (what) => process.stdout.write(JSON.stringify(what) + "\n");
const answer = async () => JSON.parse((await lines.next()).value);

// The world's sites keep their real host names on loopback ports: reach them through its proxy.
const agent = new ProxyAgent({ uri: env.WORLD_PROXY, requestTls: { ca: readFileSync(env.WORLD_CA) } });
const fetchThroughWorld = (url, options) => undiciFetch(url, { ...options, dispatcher: agent });

async function main() {
  const config = await client.discovery(
    new URL(env.PSC_ISSUER + "/.well-known/wallet-openid-configuration"),
    env.RP_CLIENT_ID,
    { client_secret: env.RP_CLIENT_SECRET, [client.clockSkew]: Number(env.RP_CLOCK_SKEW || 0) },
    client.ClientSecretBasic(env.RP_CLIENT_SECRET),
    { [client.customFetch]: fetchThroughWorld },
  );
  config[client.customFetch] = fetchThroughWorld;
  say({ step: "discovery", issuer: config.serverMetadata().issuer });

  // Authorization code + PKCE S256 + nonce + state, acr eidas1 as ANS asks.
  const verifier = client.randomPKCECodeVerifier();
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: env.RP_REDIRECT_URI, scope: "openid scope_all", acr_values: "eidas1", nonce, state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
  });
  say({ step: "authorize", url: url.href });
  const { callback } = await answer();
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
  });
  const claims = tokens.claims();
  say({ step: "tokens", sub: claims.sub, acr: claims.acr, has_refresh: Boolean(tokens.refresh_token),
        expires_in: tokens.expires_in });

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  say({ step: "refresh", rotated: refreshed.refresh_token !== tokens.refresh_token,
        sub: refreshed.claims()?.sub });
  const info = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
  say({ step: "userinfo", SubjectNameID: info.SubjectNameID, given_name: info.given_name });
  const introspected = await client.tokenIntrospection(config, refreshed.access_token);
  say({ step: "introspection", active: introspected.active, username: introspected.username });

  await client.tokenRevocation(config, refreshed.refresh_token, { token_type_hint: "refresh_token" });
  let revoked = "accepted";
  try {
    await client.refreshTokenGrant(config, refreshed.refresh_token);
  } catch (error) {
    revoked = error.error || error.code || String(error);
  }
  say({ step: "revocation", refresh_after: revoked });

  const logout = client.buildEndSessionUrl(config, {
    id_token_hint: refreshed.id_token || tokens.id_token, post_logout_redirect_uri: env.RP_REDIRECT_URI, state: "bye",
  });
  say({ step: "end_session", url: logout.href });
  await answer();

  // CIBA: the phone is asked, the client polls at the advertised interval (real seconds).
  const started = Date.now();
  const ciba = await client.initiateBackchannelAuthentication(config, {
    scope: "openid scope_all", login_hint: env.NATIONAL_ID, binding_message: "00", acr_values: "eidas1",
  });
  say({ step: "ciba", interval: ciba.interval, expires_in: ciba.expires_in });
  const cibaTokens = await client.pollBackchannelAuthenticationGrant(config, ciba);
  say({ step: "ciba_tokens", sub: cibaTokens.claims()?.sub, seconds: (Date.now() - started) / 1000,
        has_refresh: Boolean(cibaTokens.refresh_token) });
  say({ step: "done" });
}

main().then(
  () => process.exit(0),
  (error) => {
    say({ step: "error", error: String(error), code: error.code, cause: error.cause ? String(error.cause) : "" });
    process.exit(1);
  },
);
