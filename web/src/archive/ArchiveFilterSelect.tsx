// Which records a list shows by their archive state: the active ones (the
// default, as the API's), the archived ones, or all.
import { ArchiveFilter } from "../../gen/pipeline";

type Props = { id: string; value: ArchiveFilter; onChange: (v: ArchiveFilter) => void };

export function ArchiveFilterSelect({ id, value, onChange }: Props) {
    return (
        <div class="field archive-filter">
            <label for={id}>Archived</label>
            <select id={id} value={String(value === ArchiveFilter.UNSPECIFIED ? ArchiveFilter.ACTIVE : value)}
                onChange={(e) => onChange(Number(e.currentTarget.value) as ArchiveFilter)}>
                <option value={ArchiveFilter.ACTIVE}>Active only</option>
                <option value={ArchiveFilter.ARCHIVED}>Archived only</option>
                <option value={ArchiveFilter.ALL}>Active and archived</option>
            </select>
        </div>
    );
}
