// The lists a lead's form chooses from, each asked once per screen shown
// (the parts of a screen share one read): salespeople, sales teams,
// categories (tags) and lost reasons. Not once per page load: a tag or a
// user added in Settings must be offered on the next lead opened.
import { effect } from "@preact/signals";
import { SalesAccess } from "../../gen/common";
import type { Team, User } from "../../gen/identity";
import type { LostReason, Tag } from "../../gen/pipeline";
import { identity, pipeline } from "../api";
import { byName } from "../format";
import { listAllUsers } from "../names";
import { path } from "../router";

let salespeople: Promise<User[]> | null = null;
let teams: Promise<Team[]> | null = null;
let tags: Promise<Tag[]> | null = null;
let lostReasons: Promise<LostReason[]> | null = null;

effect(() => {
    void path.value;
    salespeople = teams = tags = lostReasons = null;
});

// A failed load is asked again next time rather than remembered.
function once<T>(get: () => Promise<T>, keep: (p: Promise<T> | null) => void): Promise<T> {
    const p = get();
    keep(p);
    p.catch(() => keep(null));
    return p;
}

// Active users with a sales level: who may be a lead's salesperson.
export function loadSalespeople(): Promise<User[]> {
    return salespeople ??= once(async () => (await listAllUsers(false))
        .filter((u) => u.active && (u.isAdmin || u.salesAccess !== SalesAccess.NONE)), (p) => (salespeople = p));
}

export function loadTeams(): Promise<Team[]> {
    return teams ??= once(async () => (await identity.listTeams({ includeArchived: false })).response.teams.sort(byName), (p) => (teams = p));
}

export function loadTags(): Promise<Tag[]> {
    return tags ??= once(async () => (await pipeline.listTags({})).response.tags.sort(byName), (p) => (tags = p));
}

export function loadLostReasons(): Promise<LostReason[]> {
    return lostReasons ??= once(async () => (await pipeline.listLostReasons({})).response.lostReasons.sort(byName),
        (p) => (lostReasons = p));
}
