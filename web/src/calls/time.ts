// Instants as the API has them (Unix microseconds UTC, int64 strings) and
// as a person sees them: in the browser's time zone and locale (Intl).

export function toMicros(d: Date): string {
    return String(BigInt(d.getTime()) * 1000n);
}

export function fromMicros(micros: string): Date {
    return new Date(Number(BigInt(micros) / 1000n));
}

const two = (n: number) => String(n).padStart(2, "0");

// The value of an <input type="datetime-local">: local wall-clock time.
export function localInputValue(d: Date): string {
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

// The same for <input type="date">.
export function localDateValue(d: Date): string {
    return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
}

// An input's value read as local time ("2026-12-08T14:30" or "2026-12-08"),
// or null when empty or not a date.
export function parseLocal(value: string): Date | null {
    if (!value) return null;
    // a date alone is UTC midnight to Date; a person means their own midnight
    const d = new Date(value.includes("T") ? value : `${value}T00:00`);
    return Number.isNaN(d.getTime()) ? null : d;
}

export function startOfDay(d: Date): Date {
    return new Date(d.getFullYear(), d.getMonth(), d.getDate());
}

// Calendar arithmetic on local dates, so that a day across a daylight
// saving change is still one day.
export function addDays(d: Date, n: number): Date {
    return new Date(d.getFullYear(), d.getMonth(), d.getDate() + n, d.getHours(), d.getMinutes());
}

export function sameDay(a: Date, b: Date): boolean {
    return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

// The first day of the week where the user lives (Monday in most of the
// world, Sunday in some): Intl.Locale's week info where the browser has it.
function firstWeekday(): number {
    type WeekInfo = { firstDay: number };
    const loc = new Intl.Locale(navigator.language) as Intl.Locale & {
        getWeekInfo?: () => WeekInfo; weekInfo?: WeekInfo;
    };
    const info = loc.getWeekInfo?.() ?? loc.weekInfo;
    return (info?.firstDay ?? 1) % 7; // Intl: 1 = Monday … 7 = Sunday; Date: 0 = Sunday
}

export function startOfWeek(d: Date): Date {
    const day = startOfDay(d);
    return addDays(day, -((day.getDay() - firstWeekday() + 7) % 7));
}

export const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });
export const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long" });
export const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium" });
export const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
