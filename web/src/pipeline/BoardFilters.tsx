// What the board shows: the team (a manager picks any, others theirs), my
// pipeline or one salesperson's, a tag, a text search. Names are sorted in
// the user's language (format.ts's byName), Chinese ones included.
import type { Team, User } from "../../gen/identity";
import type { Tag } from "../../gen/pipeline";

export type Filters = { teamId: string; mine: boolean; salespersonId: string; tagId: string; query: string };

type Props = {
    filters: Filters;
    teams: Team[];
    people: User[];
    tags: Tag[];
    canPickPerson: boolean;
    onChange: (f: Filters) => void;
};

export function BoardFilters({ filters, teams, people, tags, canPickPerson, onChange }: Props) {
    const set = (part: Partial<Filters>) => onChange({ ...filters, ...part });
    return (
        <form class="board-filters" role="search" aria-label="Filters" onSubmit={(ev) => ev.preventDefault()}>
            {teams.length > 1 && (
                <label>
                    <span>Team</span>
                    <select value={filters.teamId} onChange={(ev) => set({ teamId: (ev.target as HTMLSelectElement).value })}>
                        {teams.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
                    </select>
                </label>
            )}
            <label class="board-filters-check">
                <input type="checkbox" checked={filters.mine}
                       onChange={(ev) => set({ mine: (ev.target as HTMLInputElement).checked })} />
                <span>My pipeline</span>
            </label>
            {canPickPerson && (
                <label>
                    <span>Salesperson</span>
                    <select value={filters.mine ? "" : filters.salespersonId} disabled={filters.mine}
                            onChange={(ev) => set({ salespersonId: (ev.target as HTMLSelectElement).value })}>
                        <option value="">Everyone</option>
                        {people.map((u) => <option key={u.id} value={u.id}>{u.name || u.login}</option>)}
                    </select>
                </label>
            )}
            <label>
                <span>Tag</span>
                <select value={filters.tagId} onChange={(ev) => set({ tagId: (ev.target as HTMLSelectElement).value })}>
                    <option value="">Any tag</option>
                    {tags.map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
                </select>
            </label>
            <label>
                <span>Search</span>
                <input type="search" value={filters.query}
                       onInput={(ev) => set({ query: (ev.target as HTMLInputElement).value })} />
            </label>
        </form>
    );
}
