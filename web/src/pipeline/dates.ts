// A next action's date ("YYYY-MM-DD", a calendar day with no time zone) in
// the user's locale, and whether it is past: before today where the user is.
const day = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });

export function formatDay(ymd: string): string {
    const [y, m, d] = ymd.split("-").map(Number);
    if (!y || !m || !d) return ymd;
    return day.format(new Date(Date.UTC(y, m - 1, d)));
}

export function todayYmd(now = new Date()): string {
    const pad = (n: number) => String(n).padStart(2, "0");
    return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

export function isOverdue(ymd: string, today = todayYmd()): boolean {
    return ymd !== "" && ymd < today;
}
