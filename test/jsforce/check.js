// Drives jsforce, a Salesforce client nobody here wrote, against a running casebot sandbox.
// Usage: node check.js SANDBOX_URL. Exits non-zero on the first mismatch; prints one line per
// check so the Go test that runs it can show where it stopped.
'use strict';
const assert = require('node:assert/strict');
const jsforce = require('jsforce');

async function main() {
  const url = process.argv[2];
  assert.ok(url, 'usage: node check.js SANDBOX_URL');
  const conn = new jsforce.Connection({
    oauth2: { loginUrl: url, clientId: 'casebot-sandbox', clientSecret: 'sandbox-secret' },
    version: '62.0',
  });

  // A wrong password is refused the way Salesforce refuses it.
  await assert.rejects(conn.login('casebot@example.test', 'wrong'), /authentication failure/);
  const info = await conn.login('casebot@example.test', 'sandbox');
  assert.match(info.id, /^005[A-Za-z0-9]{15}$/);
  assert.match(info.organizationId, /^00D[A-Za-z0-9]{15}$/);
  assert.equal(conn.instanceUrl, url);
  console.log('ok login: password grant, user', info.id);

  // Create 450 accounts in collections of 200, the most one call takes.
  const names = [];
  for (let i = 0; i < 450; i++) names.push({ Name: `jsforce paging ${String(i).padStart(3, '0')}`, Industry: 'Retail' });
  let created = [];
  for (let i = 0; i < names.length; i += 200) {
    const rets = await conn.sobject('Account').create(names.slice(i, i + 200), { allOrNone: true });
    created = created.concat(rets);
  }
  assert.equal(created.length, 450);
  for (const r of created) {
    assert.equal(r.success, true, JSON.stringify(r));
    assert.match(r.id, /^001[A-Za-z0-9]{15}$/);
  }
  console.log('ok create: 450 accounts');

  // Query with paging: batches of 200 make three pages that autoFetch follows.
  let fetches = 0;
  const records = await new Promise((resolve, reject) => {
    const got = [];
    const q = conn.query("SELECT Id, Name FROM Account WHERE Name LIKE 'jsforce paging%' ORDER BY Name");
    q.on('fetch', () => fetches++)
      .on('record', (r) => got.push(r))
      .on('end', () => resolve(got))
      .on('error', reject);
    q.execute({ autoFetch: true, maxFetch: 10000, headers: { 'Sforce-Query-Options': 'batchSize=200' } });
  });
  assert.equal(records.length, 450);
  assert.equal(fetches, 3);
  assert.equal(records[0].Name, 'jsforce paging 000');
  assert.equal(records[449].Name, 'jsforce paging 449');
  assert.equal(records[0].attributes.type, 'Account');
  console.log('ok query: 450 records in', fetches, 'pages');

  // Update and read back.
  const acc = created[7].id;
  const upd = await conn.sobject('Account').update({ Id: acc, Industry: 'Banking', Customer_Attrition__c: true });
  assert.equal(upd.success, true, JSON.stringify(upd));
  const back = await conn.sobject('Account').retrieve(acc);
  assert.equal(back.Industry, 'Banking');
  assert.equal(back.Customer_Attrition__c, true);
  assert.equal(back.Name, 'jsforce paging 007');
  console.log('ok update: account', acc);

  // A termination case with parent fields and a child subquery.
  const cs = await conn.sobject('Case').create({ Subject: 'Termination from jsforce', Type: 'Termination', AccountId: acc });
  assert.equal(cs.success, true, JSON.stringify(cs));
  const task = await conn.sobject('Task').create({ WhatId: cs.id, Subject: 'Follow up', Casebot_Key__c: 'jsforce/check/1/' + cs.id });
  assert.equal(task.success, true, JSON.stringify(task));
  const res = await conn.query(`SELECT Id, CaseNumber, Status, IsClosed, Account.Name, (SELECT Id, Subject, Casebot_Key__c FROM Tasks) FROM Case WHERE Id = '${cs.id}'`);
  assert.equal(res.totalSize, 1);
  const c = res.records[0];
  assert.equal(c.Status, 'New');
  assert.equal(c.IsClosed, false);
  assert.match(c.CaseNumber, /^\d{8}$/);
  assert.equal(c.Account.Name, 'jsforce paging 007');
  assert.equal(c.Tasks.totalSize, 1);
  assert.equal(c.Tasks.records[0].Subject, 'Follow up');
  console.log('ok relationships: case', c.CaseNumber, 'with its account and task');

  // Salesforce's errors reach jsforce with their codes.
  await assert.rejects(conn.sobject('Account').create({ Industry: 'Retail' }),
    (err) => { assert.equal(err.errorCode, 'REQUIRED_FIELD_MISSING'); return true; });
  await assert.rejects(conn.query('SELECT Id FROM Account WHERE'),
    (err) => { assert.equal(err.errorCode, 'MALFORMED_QUERY'); return true; });
  await assert.rejects(conn.sobject('Case').update({ Id: cs.id, Status: 'No Such Status' }),
    (err) => { assert.equal(err.errorCode, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST'); return true; });
  console.log('ok errors: REQUIRED_FIELD_MISSING, MALFORMED_QUERY, INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST');

  await checkFind(conn);
  await checkDelete(conn, created.slice(0, 3).map((r) => r.id));
  await checkUpsert(conn);
  await checkCollections(conn);
  await checkComposite(conn);
  await checkDescribe(conn);
  await checkLimits(conn);
  await checkIdentity(conn, url, info);
}

// rejectsWith asserts that promise fails with a jsforce error carrying Salesforce's code.
function rejectsWith(promise, errorCode) {
  return assert.rejects(promise, (err) => {
    assert.equal(err.errorCode, errorCode, err.stack);
    return true;
  });
}

// count returns how many records soql matches.
async function count(conn, soql) {
  return (await conn.query(soql)).totalSize;
}

// checkFind queries through jsforce's SOQL builder, which writes the SOQL itself.
async function checkFind(conn) {
  const accounts = conn.sobject('Account');
  const found = await accounts.find({ Name: { $like: 'jsforce paging 00%' }, Industry: { $in: ['Retail', 'Banking'] } }, ['Id', 'Name', 'Industry'])
    .sort({ Name: -1 }).limit(3).skip(1);
  assert.deepEqual(found.map((r) => r.Name), ['jsforce paging 008', 'jsforce paging 007', 'jsforce paging 006']);
  assert.equal(found[1].Industry, 'Banking');
  assert.equal(await accounts.count({ Name: { $like: 'jsforce paging%' }, Industry: 'Banking' }), 1);
  // The builder escapes quotes (only those).
  const quoted = await accounts.create({ Name: "O'Hara jsforce" });
  assert.equal((await accounts.findOne({ Name: "O'Hara jsforce" }, ['Id'])).Id, quoted.id);
  assert.equal(await accounts.findOne({ Name: "O'Hara" }, ['Id']), null);
  console.log('ok find: conditions, sort, limit, offset and count from the SOQL builder');
}

// checkDelete deletes one record alone and two in a collection with a missing one among them.
async function checkDelete(conn, ids) {
  const one = await conn.sobject('Account').destroy(ids[0]);
  assert.deepEqual(one, { id: ids[0], success: true, errors: [] });
  await rejectsWith(conn.sobject('Account').retrieve(ids[0]), 'NOT_FOUND');
  await rejectsWith(conn.sobject('Account').destroy(ids[0]), 'ENTITY_IS_DELETED');

  // A collection delete: the deleted record fails on its own, the others are deleted.
  const many = await conn.sobject('Account').destroy([ids[1], ids[0], ids[2]]);
  assert.equal(many.length, 3);
  assert.deepEqual(many.map((r) => r.success), [true, false, true], JSON.stringify(many));
  assert.equal(many[1].errors[0].statusCode, 'ENTITY_IS_DELETED', JSON.stringify(many[1]));
  const gone = `SELECT Id FROM Account WHERE Id IN ('${ids.join("','")}')`;
  assert.equal(await count(conn, gone), 0);
  // queryAll still sees them, marked deleted.
  const all = await conn.query(`SELECT Id, IsDeleted FROM Account WHERE Id IN ('${ids.join("','")}')`, { scanAll: true });
  assert.equal(all.totalSize, 3);
  assert.ok(all.records.every((r) => r.IsDeleted === true), JSON.stringify(all.records));
  console.log('ok delete: one record, then a collection with a deleted id among them');
}

// checkUpsert upserts by Account.Legacy_Id__c, an external id that is not unique: one record,
// then a collection, then a value two records share.
async function checkUpsert(conn) {
  const accounts = conn.sobject('Account');
  const first = await accounts.upsert({ Name: 'jsforce upsert', Legacy_Id__c: 'JSF-UP-1', Industry: 'Retail' }, 'Legacy_Id__c');
  assert.equal(first.success, true, JSON.stringify(first));
  assert.equal(first.created, true, JSON.stringify(first));
  assert.match(first.id, /^001[A-Za-z0-9]{15}$/);
  // The value matches case-insensitively, as Salesforce compares external ids.
  const second = await accounts.upsert({ Legacy_Id__c: 'jsf-up-1', Industry: 'Banking' }, 'Legacy_Id__c');
  assert.deepEqual(second, { id: first.id, success: true, errors: [], created: false });
  const back = await accounts.retrieve(first.id);
  assert.equal(back.Industry, 'Banking');
  assert.equal(back.Legacy_Id__c, 'JSF-UP-1');
  // A create without the name is refused with its code, as a plain create is.
  await rejectsWith(accounts.upsert({ Legacy_Id__c: 'JSF-UP-NEW' }, 'Legacy_Id__c'), 'REQUIRED_FIELD_MISSING');
  await rejectsWith(accounts.upsert({ Name: 'x', Tenant_Id__c: 'T' }, 'Tenant_Id__c'), 'NOT_FOUND');

  // Several records in one collection call: one created, one updated, one that fails.
  const many = await accounts.upsert([
    { Name: 'jsforce upsert 2', Legacy_Id__c: 'JSF-UP-2' },
    { Legacy_Id__c: 'JSF-UP-1', Phone: '+1 555 0100' },
    { Legacy_Id__c: 'JSF-UP-3', Industry: 'Retail' },
  ], 'Legacy_Id__c');
  assert.equal(many.length, 3, JSON.stringify(many));
  assert.equal(many[0].success, true, JSON.stringify(many[0]));
  assert.equal(many[0].created, true);
  assert.deepEqual(many[1], { id: first.id, success: true, errors: [], created: false });
  assert.equal(many[2].success, false);
  assert.equal(many[2].errors[0].statusCode, 'REQUIRED_FIELD_MISSING', JSON.stringify(many[2]));
  assert.deepEqual(many[2].errors[0].fields, ['Name']);
  assert.equal((await accounts.retrieve(first.id)).Phone, '+1 555 0100');
  assert.equal(await count(conn, "SELECT Id FROM Account WHERE Legacy_Id__c LIKE 'JSF-UP-%'"), 2);

  // Two records share a legacy id: Salesforce cannot tell which to update (HTTP 300), and
  // jsforce reports the choices it was given.
  const twin = await accounts.create({ Name: 'jsforce upsert twin', Legacy_Id__c: 'JSF-UP-2' });
  assert.equal(twin.success, true, JSON.stringify(twin));
  await assert.rejects(accounts.upsert({ Legacy_Id__c: 'JSF-UP-2', Industry: 'Energy' }, 'Legacy_Id__c'), (err) => {
    assert.equal(err.errorCode, 'MULTIPLE_CHOICES');
    assert.equal(err.data.length, 2, JSON.stringify(err.data));
    for (const id of [many[0].id, twin.id]) {
      assert.ok(err.data.some((u) => u.endsWith('/sobjects/Account/' + id)), JSON.stringify(err.data));
    }
    return true;
  });
  const dup = await accounts.upsert([{ Legacy_Id__c: 'JSF-UP-2', Industry: 'Energy' }, { Legacy_Id__c: 'JSF-UP-4', Name: 'jsforce upsert 4' }], 'Legacy_Id__c');
  assert.equal(dup[0].success, false);
  assert.equal(dup[0].errors[0].statusCode, 'DUPLICATE_EXTERNAL_ID', JSON.stringify(dup[0]));
  assert.equal(dup[1].success, true, JSON.stringify(dup[1]));
  // One value twice in one call is refused for both records.
  const twice = await accounts.upsert([{ Legacy_Id__c: 'JSF-UP-5', Name: 'a' }, { Legacy_Id__c: 'jsf-up-5', Name: 'b' }], 'Legacy_Id__c');
  assert.deepEqual(twice.map((r) => r.errors[0] && r.errors[0].statusCode), ['DUPLICATE_VALUE', 'DUPLICATE_VALUE'], JSON.stringify(twice));
  const shared = await conn.query("SELECT Industry FROM Account WHERE Legacy_Id__c = 'JSF-UP-2'");
  assert.equal(shared.totalSize, 2);
  assert.ok(shared.records.every((r) => r.Industry !== 'Energy'), 'an ambiguous upsert changed a record');
  assert.equal(await count(conn, "SELECT Id FROM Account WHERE Legacy_Id__c = 'JSF-UP-5'"), 0);
  console.log('ok upsert: 201 created, 200 updated, 300 on a shared legacy id, collections with DUPLICATE_EXTERNAL_ID and DUPLICATE_VALUE');
}

// checkCollections writes collections in which one record fails, with and without allOrNone.
async function checkCollections(conn) {
  const contacts = conn.sobject('Contact');
  const rets = await contacts.create([
    { LastName: 'Partial One', Email: 'one@example.test' },
    { FirstName: 'No last name' },
    { LastName: 'Partial Three', Email: 'not an email' },
    { LastName: 'Partial Four' },
  ], { allOrNone: false });
  assert.deepEqual(rets.map((r) => r.success), [true, false, false, true], JSON.stringify(rets));
  assert.equal(rets[1].errors[0].statusCode, 'REQUIRED_FIELD_MISSING');
  assert.deepEqual(rets[1].errors[0].fields, ['LastName']);
  assert.equal(rets[2].errors[0].statusCode, 'INVALID_EMAIL_ADDRESS', JSON.stringify(rets[2]));
  assert.match(rets[0].id, /^003[A-Za-z0-9]{15}$/);
  assert.equal(rets[1].id, undefined);
  assert.equal(await count(conn, "SELECT Id FROM Contact WHERE LastName LIKE 'Partial %'"), 2);

  // All or none: one failure rolls back the others, which say so.
  const none = await contacts.create([{ LastName: 'Rolled One' }, { LastName: 'x'.repeat(81) }], { allOrNone: true });
  assert.deepEqual(none.map((r) => r.success), [false, false]);
  assert.equal(none[0].errors[0].statusCode, 'ALL_OR_NONE_OPERATION_ROLLED_BACK');
  assert.equal(none[1].errors[0].statusCode, 'STRING_TOO_LONG', JSON.stringify(none[1]));
  assert.equal(await count(conn, "SELECT Id FROM Contact WHERE LastName = 'Rolled One'"), 0);

  // An update collection: a read-only field fails its record only.
  const upd = await contacts.update([
    { Id: rets[0].id, Title: 'Director' },
    { Id: rets[3].id, Name: 'Read Only' },
  ], { allOrNone: false });
  assert.deepEqual(upd.map((r) => r.success), [true, false], JSON.stringify(upd));
  assert.equal(upd[0].id, rets[0].id);
  assert.equal(upd[1].errors[0].statusCode, 'INVALID_FIELD_FOR_INSERT_UPDATE', JSON.stringify(upd[1]));
  const back = await contacts.retrieve([rets[0].id, rets[3].id], { fields: ['Title', 'Name'] });
  assert.equal(back[0].Title, 'Director');
  assert.equal(back[1].Name, 'Partial Four');
  console.log('ok collections: partial failure, all or none rolled back, per-record statusCode');
}

// checkComposite runs a composite whose later subrequests name earlier results, then one that
// fails with allOrNone and leaves nothing behind.
async function checkComposite(conn) {
  const v = '/services/data/v' + conn.version;
  const res = await conn.requestPost('/composite', {
    allOrNone: true,
    compositeRequest: [
      { method: 'POST', url: v + '/sobjects/Account', referenceId: 'acct', body: { Name: 'jsforce composite' } },
      { method: 'POST', url: v + '/sobjects/Case', referenceId: 'cs',
        body: { Subject: 'Composite termination', Type: 'Termination', AccountId: '@{acct.id}' } },
      { method: 'GET', url: v + '/sobjects/Case/@{cs.id}?fields=CaseNumber,AccountId', referenceId: 'read' },
      // The reference stays unencoded in the URL, as in Salesforce's examples.
      { method: 'GET', referenceId: 'q', url: v + "/query?q=SELECT+Id,Account.Name+FROM+Case+WHERE+Id='@{cs.id}'" },
    ],
  });
  const byRef = Object.fromEntries(res.compositeResponse.map((r) => [r.referenceId, r]));
  assert.deepEqual(res.compositeResponse.map((r) => r.httpStatusCode), [201, 201, 200, 200], JSON.stringify(res));
  assert.match(byRef.acct.body.id, /^001[A-Za-z0-9]{15}$/);
  assert.equal(byRef.read.body.AccountId, byRef.acct.body.id);
  assert.match(byRef.read.body.CaseNumber, /^\d{8}$/);
  assert.equal(byRef.q.body.totalSize, 1);
  assert.equal(byRef.q.body.records[0].Account.Name, 'jsforce composite');

  const failed = await conn.requestPost('/composite', {
    allOrNone: true,
    compositeRequest: [
      { method: 'POST', url: v + '/sobjects/Account', referenceId: 'ok', body: { Name: 'jsforce composite rolled back' } },
      { method: 'POST', url: v + '/sobjects/Case', referenceId: 'bad', body: { Subject: 'x', Status: 'No Such Status', AccountId: '@{ok.id}' } },
    ],
  });
  const [ok, bad] = failed.compositeResponse;
  assert.equal(bad.httpStatusCode, 400);
  assert.equal(bad.body[0].errorCode, 'INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST', JSON.stringify(bad));
  assert.equal(ok.httpStatusCode, 400);
  assert.equal(ok.body[0].errorCode, 'PROCESSING_HALTED', JSON.stringify(ok));
  assert.equal(await count(conn, "SELECT Id FROM Account WHERE Name = 'jsforce composite rolled back'"), 0);
  // More than 25 subrequests are refused as a whole.
  const tooMany = Array.from({ length: 26 }, (_, i) => ({ method: 'GET', url: v + '/limits', referenceId: 'r' + i }));
  await rejectsWith(conn.requestPost('/composite', { compositeRequest: tooMany }), 'INVALID_INPUT');
  console.log('ok composite: @{ref.id} across 4 subrequests, allOrNone rollback, 25-subrequest limit');
}

// checkDescribe reads the schema as clients that generate code or forms from it do.
async function checkDescribe(conn) {
  const global = await conn.describeGlobal();
  const names = global.sobjects.map((o) => o.name);
  for (const want of ['Account', 'Contact', 'Case', 'Task', 'User', 'Group', 'EmailMessage', 'CaseComment', 'ContentVersion']) {
    assert.ok(names.includes(want), `describeGlobal lacks ${want}: ${names}`);
  }
  const caseInfo = global.sobjects.find((o) => o.name === 'Case');
  assert.equal(caseInfo.keyPrefix, '500');
  assert.equal(caseInfo.urls.describe, `/services/data/v${conn.version}/sobjects/Case/describe`);

  const cs = await conn.sobject('Case').describe();
  const field = (name) => {
    const f = cs.fields.find((x) => x.name === name);
    assert.ok(f, `Case describe lacks ${name}`);
    return f;
  };
  assert.equal(cs.name, 'Case');
  assert.equal(field('CaseNumber').autoNumber, true);
  assert.equal(field('CaseNumber').createable, false);
  assert.equal(field('IsClosed').updateable, false);
  const status = field('Status');
  assert.equal(status.type, 'picklist');
  assert.equal(status.restrictedPicklist, true);
  assert.deepEqual(status.picklistValues.filter((p) => p.defaultValue).map((p) => p.value), ['New']);
  assert.ok(status.picklistValues.some((p) => p.value === 'Closed' && p.active), JSON.stringify(status.picklistValues));
  const account = field('AccountId');
  assert.equal(account.type, 'reference');
  assert.deepEqual(account.referenceTo, ['Account']);
  assert.equal(account.relationshipName, 'Account');
  assert.equal(field('Casebot_Key__c').externalId, true);
  assert.equal(field('Casebot_Key__c').custom, true);
  const rel = cs.childRelationships.find((r) => r.relationshipName === 'Tasks');
  assert.deepEqual({ childSObject: rel.childSObject, field: rel.field }, { childSObject: 'Task', field: 'WhatId' });

  const acc = await conn.describe('Account');
  const legacy = acc.fields.find((f) => f.name === 'Legacy_Id__c');
  assert.deepEqual({ externalId: legacy.externalId, unique: legacy.unique, idLookup: legacy.idLookup },
    { externalId: true, unique: false, idLookup: true });
  assert.ok(acc.fields.find((f) => f.name === 'Name').nillable === false);
  assert.ok(acc.childRelationships.some((r) => r.relationshipName === 'Cases' && r.childSObject === 'Case' && r.field === 'AccountId'));
  await rejectsWith(conn.describe('Opportunity'), 'NOT_FOUND');
  console.log('ok describe: global list, Case fields and picklists, child relationships');
}

// checkLimits reads /limits, which counts itself like every data call, against the usage the
// Sforce-Limit-Info header of each answer reports.
async function checkLimits(conn) {
  const before = await conn.limits();
  const usage = conn.limitInfo.apiUsage;
  assert.equal(before.DailyApiRequests.Max, 15000);
  assert.equal(usage.limit, 15000);
  assert.equal(before.DailyApiRequests.Remaining, usage.limit - usage.used);
  const after = await conn.limits();
  assert.equal(after.DailyApiRequests.Remaining, before.DailyApiRequests.Remaining - 1);
  assert.equal(conn.limitInfo.apiUsage.used, usage.used + 1);
  console.log('ok limits:', usage.used, 'of', usage.limit, 'calls used');
}

// checkIdentity asks who is logged in: through the identity URL of the login, and through the
// resources list when a connection has only a token.
async function checkIdentity(conn, url, info) {
  const id = await conn.identity();
  assert.equal(id.user_id, info.id);
  assert.equal(id.organization_id, info.organizationId);
  assert.equal(id.username, 'casebot@example.test');
  assert.equal(id.id, conn.userInfo.url);

  const bare = new jsforce.Connection({ instanceUrl: url, accessToken: conn.accessToken, version: conn.version });
  const again = await bare.identity();
  assert.equal(again.user_id, info.id);
  assert.equal(bare.userInfo.url, id.id);
  const stranger = new jsforce.Connection({ instanceUrl: url, accessToken: 'not-a-token', version: conn.version });
  await assert.rejects(stranger.query('SELECT Id FROM Account LIMIT 1'), (err) => {
    assert.equal(err.errorCode, 'INVALID_SESSION_ID');
    return true;
  });
  console.log('ok identity:', id.username);
}

main().then(() => console.log('jsforce: all checks passed'), (err) => {
  console.error('jsforce check failed:', err && err.stack || err);
  process.exit(1);
});
