// A CSV file cut into pages of whole rows for ImportRecords, as crmctl cuts
// it: each page is the header line and at most `rows` rows (a quoted field's
// line ends never split a row), with the file's number of its first row.
// Blank lines are sent but not counted, as the server counts rows.

export type CsvPage = { csv: string; firstRow: number; rows: number };

// The end of the record starting at `from` (past its line end).
function recordEnd(text: string, from: number): number {
    let quoted = false;
    for (let i = from; i < text.length; i++) {
        const c = text[i];
        if (c === '"') quoted = !quoted;
        else if (!quoted && (c === "\n" || c === "\r")) return c === "\r" && text[i + 1] === "\n" ? i + 2 : i + 1;
    }
    return text.length;
}

const blank = /^[ \t,;]*(\r\n|\n|\r)?$/;
const utf8 = new TextEncoder();

export function csvPages(text: string, rowsPerPage: number, maxBytes: number): CsvPage[] {
    let pos = 0;
    let header = "";
    while (pos < text.length && !header) {
        const end = recordEnd(text, pos);
        const rec = text.slice(pos, end);
        if (!blank.test(rec.replace(/^\uFEFF/, ""))) header = text.slice(0, end);
        pos = end;
    }
    if (!header) return [];
    const pages: CsvPage[] = [];
    let rows: string[] = [], count = 0, bytes = utf8.encode(header).length, row = 1, first = 1;
    const flush = () => {
        if (count) pages.push({ csv: header + rows.join(""), firstRow: first, rows: count });
        rows = [];
        count = 0;
        bytes = utf8.encode(header).length;
        first = row;
    };
    while (pos < text.length) {
        const end = recordEnd(text, pos);
        const rec = text.slice(pos, end);
        pos = end;
        const size = utf8.encode(rec).length;
        if (count && (count === rowsPerPage || bytes + size > maxBytes)) flush();
        rows.push(rec);
        bytes += size;
        if (!blank.test(rec)) {
            count++;
            row++;
        }
    }
    flush();
    return pages;
}
