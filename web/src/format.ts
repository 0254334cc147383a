// Money and numbers in the user's locale (Intl); money is in minor units,
// as int64 strings, and is never put through a float: Intl formats the
// decimal string itself (a sum of many amounts may pass 2^53).
const formats = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string): Intl.NumberFormat {
    let f = formats.get(currency);
    if (!f) {
        f = new Intl.NumberFormat(undefined, { style: "currency", currency });
        formats.set(currency, f);
    }
    return f;
}

const plain = new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

// Digits after the point in currency's minor units (EUR 2, JPY 0, KWD 3);
// 2 for a code Intl does not know.
export function minorDigits(currency: string): number {
    if (!currency) return 2;
    try {
        return moneyFormat(currency).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
        return 2;
    }
}

// Minor units "375000" as a decimal "3750.00" (digits after the point).
export function decimalText(minor: string | bigint, digits: number): string {
    const s = String(minor);
    const neg = s.startsWith("-");
    const whole = (neg ? s.slice(1) : s).padStart(digits + 1, "0");
    const text = digits ? `${whole.slice(0, -digits)}.${whole.slice(-digits)}` : whole;
    return (neg ? "-" : "") + text;
}

// Minor units "375000" as the text of an amount input: "3750.00".
export function majorText(minor: string, currency: string): string {
    return decimalText(minor, minorDigits(currency));
}

// An amount as typed ("3750", "3750.5", "-2") in minor units, or null when
// it has more decimals than the currency has or is not a number.
export function minorUnits(text: string, currency: string): string | null {
    const m = /^\s*(-?)(\d*)(?:[.,](\d*))?\s*$/.exec(text);
    if (!m || (m[2] === "" && !m[3])) return text.trim() === "" ? "0" : null;
    const d = minorDigits(currency);
    const frac = m[3] ?? "";
    if (frac.length > d) return null;
    const n = BigInt((m[2] || "0") + frac.padEnd(d, "0"));
    return String(m[1] ? -n : n);
}

// Minor units as a number of major units, for a chart's scale (a float is
// fine there: bars and ticks, not figures to read to the cent).
export function majorNumber(minor: string | bigint, currency: string): number {
    return Number(minor) / 10 ** minorDigits(currency);
}

// "375000", "EUR" → "€3,750.00"; "375000", "JPY" → "¥375,000"; an unknown
// or empty currency shows the amount with two decimals and no symbol
// rather than a wrong one.
export function formatMoney(minor: string | bigint, currency: string): string {
    // a decimal string is formatted exactly (Intl.NumberFormat v3); the
    // lib's types know numbers and bigints only
    const exact = (f: Intl.NumberFormat, digits: number) => f.format(decimalText(minor, digits) as unknown as number);
    if (currency) {
        try {
            return exact(moneyFormat(currency), minorDigits(currency));
        } catch {
            /* not an ISO code Intl knows: plain below */
        }
    }
    return exact(plain, 2);
}

// Names in the order of the user's language, Chinese and other scripts
// included; "Item 2" before "Item 10".
export const compareNames = new Intl.Collator(undefined, { sensitivity: "base", numeric: true }).compare;
export const byName = <T extends { name: string }>(a: T, b: T) => compareNames(a.name, b.name);
// a person as the screens name them: their name, else their login
export const personName = (u: { name: string; login: string }) => u.name || u.login;
export const byPersonName = <T extends { name: string; login: string }>(a: T, b: T) => compareNames(personName(a), personName(b));

// Unix microseconds (as int64 strings) → the user's local date and time.
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function formatDateTime(micros: string | bigint): string {
    const ms = Number(BigInt(micros) / 1000n);
    return ms ? dateTime.format(new Date(ms)) : "";
}
