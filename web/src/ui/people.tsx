// The Salesperson and Sales team selects of a lead's and a customer's form.
import type { Team, User } from "../../gen/identity";
import { seesAllLeads } from "../access";
import { personName } from "../format";

type SalespersonProps = {
    id: string;
    user: User;                 // who is signed in
    people: User[];             // active salespeople
    value: string;              // user id, "0" for nobody
    holderName: string;         // the name of value's person when known otherwise (the lead carries it)
    onChange: (id: string) => void;
};

// An own-leads user may give a record to themselves or to nobody only. The
// person it has now stays shown as such even when not offered (another's,
// or deactivated), rather than the select falling back to its first option.
export function SalespersonSelect({ id, user, people, value, holderName, onChange }: SalespersonProps) {
    const offered = seesAllLeads(user) ? people : people.filter((p) => p.id === user.id);
    const held = value !== "0" && !offered.some((p) => p.id === value);
    const heldName = held ? (people.find((p) => p.id === value) ?? null) : null;
    return (
        <select id={id} value={value} aria-describedby={`${id}-error`} onChange={(e) => onChange(e.currentTarget.value)}>
            <option value="0">Nobody (unassigned)</option>
            {held && <option value={value}>{heldName ? personName(heldName) : holderName}</option>}
            {offered.map((p) => <option key={p.id} value={p.id}>{personName(p)}</option>)}
        </select>
    );
}

export function TeamSelect({ id, teams, value, onChange }: { id: string; teams: Team[]; value: string; onChange: (id: string) => void }) {
    return (
        <select id={id} value={value} aria-describedby={`${id}-error`} onChange={(e) => onChange(e.currentTarget.value)}>
            <option value="0">No team</option>
            {teams.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
        </select>
    );
}
