import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { escapeHtml, markdownToHtml, renderHtml, writeHtmlIndex } from '../../src/report/index.js';

test('escapeHtml escapes the five special characters', () => {
  assert.is(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
});

test('markdown tables become HTML tables with escaped cells and alignment', () => {
  const html = markdownToHtml('Intro <b>\n\n| a | b |\n|---|---:|\n| <i> | 2 |\n| x | 3 |\nafter');
  assert.match(html, '<p>Intro &lt;b&gt;</p>');
  assert.match(html, '<th style="text-align:left">a</th><th style="text-align:right">b</th>');
  assert.match(html, '<td style="text-align:left">&lt;i&gt;</td>');
  assert.is((html.match(/<tr>/g) ?? []).length, 3);
  assert.match(html, '<p>after</p>');
});

test('writeHtmlIndex: self-contained page, captions escaped, params shown as JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'csm-report-'));
  try {
    const file = await writeHtmlIndex(join(dir, 'rep'), {
      title: 'CMS <report>',
      sections: [{
        heading: 'Maps & regions',
        text: 'First paragraph.\n\nSecond <paragraph>.',
        images: [{ file: 'cms map.png', caption: '<script>alert(1)</script>' }, { file: 'sub/cis#1.png', caption: 'CIS' }],
        tables: '| region | share |\n|---|---:|\n| eyes | 40% |',
      }, { heading: 'Raw', images: [], tables: '<table><tr><td>trusted</td></tr></table>' }],
      params: { model: 'vgg', patch: 15, note: '</pre><script>' },
    });
    assert.is(file, join(dir, 'rep', 'index.html'));
    const html = readFileSync(file, 'utf8');
    assert.ok(html.startsWith('<!DOCTYPE html>'));
    assert.not.match(html, '<script>');
    assert.match(html, '&lt;script&gt;alert(1)&lt;/script&gt;');
    assert.match(html, '<title>CMS &lt;report&gt;</title>');
    assert.match(html, '<h2>Maps &amp; regions</h2>');
    assert.match(html, '<p>Second &lt;paragraph&gt;.</p>');
    assert.match(html, 'src="cms%20map.png"');
    assert.match(html, 'src="sub/cis%231.png"');
    assert.match(html, '<td style="text-align:left">eyes</td>');
    assert.match(html, '<table><tr><td>trusted</td></tr></table>');
    assert.match(html, '&quot;patch&quot;: 15');
    assert.match(html, '<style>');
    assert.not.match(html, /<link|<script/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('image paths must stay inside the report folder', () => {
  for (const file of ['/abs.png', '../up.png', 'http://x/y.png']) {
    assert.throws(() => renderHtml({ title: 't', sections: [{ heading: 'h', images: [{ file, caption: '' }] }], params: {} }), /relative/);
  }
});

test.run();
