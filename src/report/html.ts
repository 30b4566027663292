/**
 * A self-contained HTML report: one index.html with inline CSS, images referenced by relative file
 * name (so the folder can be moved or zipped as a whole), and the run's parameters as JSON (every
 * output records how it was made). All caller text is escaped; only a table given as HTML is
 * inserted as is, since the caller built it.
 */
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic.js';
import path from 'node:path';

export interface ReportImage {
  /** File name relative to the report folder (e.g. "cms.png" or "maps/cis-001.png"). */
  file: string;
  caption: string;
}

export interface ReportSection {
  heading: string;
  /** Plain text; blank lines separate paragraphs. */
  text?: string;
  images: ReportImage[];
  /** A markdown table (e.g. regionTableMarkdown) or trusted HTML (if it starts with '<'). */
  tables?: string;
}

export interface ReportSpec {
  title: string;
  sections: ReportSection[];
  /** How the outputs were made (model, patch, stride, fill, ...), shown as JSON. */
  params: object;
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * A relative image path as a URL: each segment percent-encoded so that names with spaces, '#' or
 * '?' still load. Absolute paths and '..' are refused: they would break once the folder moves.
 */
function imageUrl(file: string): string {
  const parts = file.split(/[\\/]/);
  if (path.isAbsolute(file) || /^[a-z]+:/i.test(file) || parts.some((p) => p === '..' || p === '')) {
    throw new RangeError(`report image "${file}" must be a relative path inside the report folder`);
  }
  return parts.map(encodeURIComponent).join('/');
}

/** Splits one markdown table row "| a | b |" into its cells. */
function cells(line: string): string[] {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
}

/**
 * Markdown → HTML for what reports contain: pipe tables (header, separator row with optional
 * ':' alignment, body) and plain lines as paragraphs. Cell text is escaped.
 */
export function markdownToHtml(md: string): string {
  const lines = md.split(/\r?\n/);
  const out: string[] = [];
  let i = 0;
  const isSep = (l: string | undefined): boolean => l !== undefined && /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/.test(l);
  while (i < lines.length) {
    const line = lines[i]!;
    if (line.includes('|') && isSep(lines[i + 1])) {
      const head = cells(line);
      const align = cells(lines[i + 1]!).map((c) => (c.endsWith(':') ? (c.startsWith(':') ? 'center' : 'right') : 'left'));
      const th = head.map((c, k) => `<th style="text-align:${align[k] ?? 'left'}">${escapeHtml(c)}</th>`).join('');
      const rows: string[] = [];
      i += 2;
      while (i < lines.length && lines[i]!.includes('|')) {
        rows.push(`<tr>${cells(lines[i]!).map((c, k) => `<td style="text-align:${align[k] ?? 'left'}">${escapeHtml(c)}</td>`).join('')}</tr>`);
        i++;
      }
      out.push(`<table><thead><tr>${th}</tr></thead><tbody>${rows.join('')}</tbody></table>`);
      continue;
    }
    if (line.trim()) out.push(`<p>${escapeHtml(line.trim())}</p>`);
    i++;
  }
  return out.join('\n');
}

const CSS = `
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.images { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figure img { max-width: 100%; image-rendering: pixelated; border: 1px solid #ccc; }
figcaption { font-size: 0.9em; color: #555; max-width: 40em; }
table { border-collapse: collapse; margin: 1em 0; } th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f3f3f3; } pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
`.trim();

/** The report as an HTML string. */
export function renderHtml(spec: ReportSpec): string {
  const sections = spec.sections.map((s) => {
    const text = (s.text ?? '').split(/\n\s*\n/).filter((p) => p.trim()).map((p) => `<p>${escapeHtml(p.trim())}</p>`).join('\n');
    const figures = s.images.map((im) =>
      `<figure><img src="${escapeHtml(imageUrl(im.file))}" alt="${escapeHtml(im.caption)}"><figcaption>${escapeHtml(im.caption)}</figcaption></figure>`);
    const tables = s.tables === undefined ? '' : s.tables.trimStart().startsWith('<') ? s.tables : markdownToHtml(s.tables);
    return [`<section>`, `<h2>${escapeHtml(s.heading)}</h2>`, text,
      figures.length ? `<div class="images">\n${figures.join('\n')}\n</div>` : '', tables, `</section>`].filter(Boolean).join('\n');
  });
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${escapeHtml(spec.title)}</title>`,
    `<style>\n${CSS}\n</style>`,
    '</head>',
    '<body>',
    `<h1>${escapeHtml(spec.title)}</h1>`,
    ...sections,
    '<section>',
    '<h2>Parameters</h2>',
    `<pre>${escapeHtml(JSON.stringify(spec.params, null, 2) ?? 'null')}</pre>`,
    '</section>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** Writes `dir/index.html` (creating dir) atomically (io/atomic.ts) and returns its path. */
export async function writeHtmlIndex(dir: string, spec: ReportSpec): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'index.html');
  await writeFileAtomic(file, renderHtml(spec));
  return file;
}
