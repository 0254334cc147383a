// Money and numbers in the user's locale (Intl); money is in minor units.
const formats = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string): Intl.NumberFormat {
    let f = formats.get(currency);
    if (!f) {
        f = new Intl.NumberFormat(undefined, { style: "currency", currency });
        formats.set(currency, f);
    }
    return f;
}

function minorDigits(f: Intl.NumberFormat): number {
    return f.resolvedOptions().maximumFractionDigits ?? 2;
}

// "375000", "EUR" → "€3,750.00"; an unknown or empty currency shows the
// amount with two decimals and no symbol rather than a wrong one.
export function formatMoney(minor: string | bigint, currency: string): string {
    const n = Number(minor);
    if (currency) {
        try {
            const f = moneyFormat(currency);
            return f.format(n / 10 ** minorDigits(f));
        } catch {
            /* not an ISO code Intl knows: plain below */
        }
    }
    return new Intl.NumberFormat(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(n / 100);
}

// Unix microseconds (as int64 strings) → the user's local date and time.
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
export function formatDateTime(micros: string | bigint): string {
    const ms = Number(BigInt(micros) / 1000n);
    return ms ? dateTime.format(new Date(ms)) : "";
}
