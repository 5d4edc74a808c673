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
}

main().then(() => console.log('jsforce: all checks passed'), (err) => {
  console.error('jsforce check failed:', err && err.stack || err);
  process.exit(1);
});
