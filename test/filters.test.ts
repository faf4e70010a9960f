// engine/filters.ts: the one `label` / `label!` matcher every list, prune and events filter uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { labelMatches, matchesLabels, parseFilters } from '../src/engine/filters.js';

test('a label filter is a key, or a key and a value split at the first "="', () => {
  const labels = { app: 'web', 'conn': 'a=b', empty: '' };
  assert.equal(labelMatches(labels, 'app'), true);
  assert.equal(labelMatches(labels, 'app=web'), true);
  assert.equal(labelMatches(labels, 'app=db'), false);
  assert.equal(labelMatches(labels, 'conn=a=b'), true);
  assert.equal(labelMatches(labels, 'conn=a'), false);
  assert.equal(labelMatches(labels, 'empty='), true);
  assert.equal(labelMatches(labels, 'nosuch'), false);
  assert.equal(labelMatches(labels, 'nosuch='), false);
});

test('label filters must all match, label! filters must none', () => {
  const labels = { app: 'web', tier: 'front' };
  const f = (json: object) => parseFilters(JSON.stringify(json));
  assert.equal(matchesLabels(labels, f({})), true);
  assert.equal(matchesLabels(labels, f({ label: { app: true, 'tier=front': true } })), true);
  assert.equal(matchesLabels(labels, f({ label: { app: true, 'tier=back': true } })), false);
  assert.equal(matchesLabels(labels, f({ 'label!': { 'tier=back': true } })), true);
  assert.equal(matchesLabels(labels, f({ label: ['app'], 'label!': ['tier'] })), false);
});
