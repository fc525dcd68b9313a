#!/usr/bin/env node
// Runs cdk-nag's AwsSolutions pack on every template the Go CDK app wrote
// (OPS-01): each template is loaded into a stack with CfnInclude, which keeps
// the suppressions the Go app wrote as Metadata.cdk_nag, and synthesized
// with the checks as an aspect.
//
// Usage: node nag.js [cdk.out]. Writes nag/AwsSolutions-<stack>-NagReport.csv
// under that folder, prints every finding and suppression, and exits 1 on
// any unsuppressed error or warning, 2 when there is nothing to check.
'use strict';
const fs = require('fs');
const path = require('path');
const { App, Aspects, DefaultStackSynthesizer, Stack } = require('aws-cdk-lib');
const { CfnInclude } = require('aws-cdk-lib/cloudformation-include');
const { AwsSolutionsChecks } = require('cdk-nag');

const dir = path.resolve(process.argv[2] || 'cdk.out');
// The stacks of the last synthesis, as its manifest lists them (cdk.out may
// still hold templates of earlier ones).
const manifest = path.join(dir, 'manifest.json');
const templates = fs.existsSync(manifest)
  ? Object.values(JSON.parse(fs.readFileSync(manifest, 'utf8')).artifacts || {})
      .filter((a) => a.type === 'aws:cloudformation:stack')
      .map((a) => a.properties.templateFile)
  : [];
if (templates.length === 0) {
  console.error(`nag: no stack in ${manifest}: run make synth first`);
  process.exit(2);
}
const outdir = path.join(dir, 'nag');
let failures = 0;
for (const file of templates) {
  const name = file.slice(0, -'.template.json'.length);
  const app = new App({ outdir });
  // The template already holds its bootstrap-version rule and parameter.
  const stack = new Stack(app, name, { synthesizer: new DefaultStackSynthesizer({ generateBootstrapVersionRule: false }) });
  new CfnInclude(stack, 'Template', { templateFile: path.join(dir, file) });
  Aspects.of(app).add(new AwsSolutionsChecks({ reports: true }));
  const messages = app.synth().getStackByName(name).messages;
  const findings = messages.filter((m) => m.level === 'error' || m.level === 'warning');
  for (const m of findings) {
    console.log(`nag: ${name}: ${m.level}: ${m.id}: ${String(m.entry.data).split('\n')[0]}`);
  }
  const report = path.join(outdir, `AwsSolutions-${name}-NagReport.csv`);
  const suppressed = fs.readFileSync(report, 'utf8').split('\n').filter((l) => l.includes('"Suppressed"'));
  for (const l of suppressed) {
    console.log(`nag: ${name}: suppressed: ${l}`);
  }
  console.log(`nag: ${name}: ${findings.length} unsuppressed findings, ${suppressed.length} suppressed with reasons; report ${report}`);
  failures += findings.length;
}
process.exit(failures > 0 ? 1 : 0);
