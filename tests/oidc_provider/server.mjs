// A real OpenID provider for the tests (the `oidc-provider` package from npm), on 127.0.0.1.
//
//   node tests/oidc_provider/server.mjs --port 4567 --clock 1796115600 \
//     --redirect http://testserver/sign-in/oidc/test/callback
//
// --clock is the test's clock (seconds since the epoch) when it starts the provider: the tests
// run at a fixed date, and the tokens' times must agree with it. The provider's clock starts
// there and ticks on; its cookies are sent without an expiry date, which a browser on the real
// date would take as already past.
//
// Its login form is the package's own development form (devInteractions): any password is
// taken, and the login names one of the accounts below. Consent is taken as given, so that a
// sign-in is the login form alone. PKCE is required of every client. The signing key is fixed
// (signing-key.json) so that the tests can make ID tokens the provider could have made, with
// one thing wrong in each.
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const here = new URL('.', import.meta.url);
const argument = (name) => process.argv[process.argv.indexOf(name) + 1];
const port = Number(argument('--port'));
const clock = Number(argument('--clock'));
if (clock) {
  const offset = clock * 1000 - Date.now();
  const realNow = Date.now;
  Date.now = () => realNow() + offset;
}
const redirects = process.argv.flatMap((value, i) => (process.argv[i - 1] === '--redirect' ? [value] : []));

// The accounts people sign in as: the login name is the subject.
const ACCOUNTS = {
  alice: { email: 'alice.officer@example.gov.uk', email_verified: true, name: 'Alice Officer', groups: [] },
  stranger: { email: 'stranger@example.org', email_verified: true, name: 'A Stranger', groups: [] },
  unverified: { email: 'alice.officer@example.gov.uk', email_verified: false, name: 'Not Alice', groups: [] },
  // A second account at the provider with Alice's verified address (a re-created account).
  alicetwin: { email: 'alice.officer@example.gov.uk', email_verified: true, name: 'Alice Again', groups: [] },
  leaver: { email: 'leaver@example.gov.uk', email_verified: true, name: 'A Leaver', groups: [] },
  newstarter: {
    email: 'new.starter@example.gov.uk', email_verified: true, name: 'New Starter', groups: ['cornwall-officers'],
  },
  nogroup: { email: 'no.group@example.gov.uk', email_verified: true, name: 'No Group', groups: [] },
};

const readJson = (name) => JSON.parse(readFileSync(new URL(name, here)));

const configuration = {
  clients: [
    {
      client_id: 'tracker',
      client_secret: 'tracker-test-secret',
      redirect_uris: redirects,
      post_logout_redirect_uris: [],
    },
    {
      client_id: 'tracker-key',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [readJson('client-key.public.json')] },
      redirect_uris: redirects,
    },
  ],
  jwks: { keys: [readJson('signing-key.json')] },
  pkce: { required: () => true },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  scopes: ['openid', 'email', 'profile', 'groups'],
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...account }) };
  },
  // Consent given for whatever was asked: the tests sign in, they do not grant.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope);
    await grant.save();
    return grant;
  },
};

const provider = new Provider(`http://127.0.0.1:${port}`, configuration);
provider.use(async (ctx, next) => {
  await next();
  const cookies = ctx.response.get('set-cookie');
  if (Array.isArray(cookies) && cookies.length) {
    ctx.set('set-cookie', cookies.map((cookie) => cookie.replace(/; expires=[^;]*/gi, '')));
  }
});
provider.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});
