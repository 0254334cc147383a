// The followers of a document: Follow / Unfollow for oneself, each
// follower's "when to be notified" (the subtypes), and, for those the API
// lets change others' following (the document's salesperson, a sales
// manager, an administrator), adding and removing other followers.
import { useSignal } from "@preact/signals";
import type { DocRef } from "../../gen/common";
import type { User } from "../../gen/identity";
import { FollowRequest, Subtype, UnfollowRequest, type Follower } from "../../gen/notifications";
import { errorText, identity, isUnauthenticated, notifications } from "../api";
import { currentUser } from "../session";

export const subtypeNames: { subtype: Subtype; label: string }[] = [
    { subtype: Subtype.DISCUSSION, label: "Discussion" },
    { subtype: Subtype.STAGE_CHANGED, label: "Stage changed" },
    { subtype: Subtype.STATUS_CHANGED, label: "Status changed" },
    { subtype: Subtype.ASSIGNED, label: "Assigned" },
    { subtype: Subtype.CALL, label: "Calls and meetings" },
    { subtype: Subtype.ACTIVITY, label: "Activities" },
];

const collator = new Intl.Collator(undefined, { sensitivity: "base", numeric: true });

type Props = {
    doc: DocRef;
    me: User;
    followers: Follower[] | null;
    canManage: boolean;          // may change others' following
    onChange: () => Promise<void>;  // loads the followers again
};

export function Followers({ doc, me, followers, canManage, onChange }: Props) {
    const error = useSignal("");
    const busy = useSignal(false);
    const users = useSignal<User[] | null>(null);
    const picked = useSignal("");
    const chosen = useSignal<ReadonlyMap<string, boolean>>(new Map());
    const opened = useSignal<ReadonlySet<string>>(new Set());
    const base = `followers-${doc.model}-${doc.id}`;
    const mine = followers?.find((f) => f.userId === me.id);

    // every change is the server's: run it, then show what it now holds
    async function act(fn: () => Promise<unknown>) {
        busy.value = true;
        error.value = "";
        try {
            await fn();
        } catch (e) {
            if (isUnauthenticated(e)) currentUser.value = "signed-out";
            else error.value = errorText(e);
        }
        try {
            await onChange();
        } catch (e) {
            error.value ||= errorText(e);
        } finally {
            busy.value = false;
        }
    }

    const follow = (userId: string, subtypes: Subtype[] = []) =>
        act(async () => (await notifications.follow(FollowRequest.create({ doc, userId, subtypes }))).response);
    const unfollow = (userId: string, subtypes: Subtype[] = []) =>
        act(async () => (await notifications.unfollow(UnfollowRequest.create({ doc, userId, subtypes }))).response);

    // Follow replaces a follower's subtypes; Unfollow with one subtype drops
    // that one (and the follower with their last one).
    // The box shows the choice at once; the server's list replaces it when
    // the call is over, whatever it answered.
    function toggle(f: Follower, s: Subtype, on: boolean) {
        const key = `${f.userId}/${s}`;
        chosen.value = new Map(chosen.value).set(key, on);
        const done = () => {
            const left = new Map(chosen.value);
            left.delete(key);
            chosen.value = left;
        };
        if (on) void follow(f.userId, [...f.subtypes.filter((x) => x !== s), s]).then(done);
        else void unfollow(f.userId, [s]).then(done);
    }

    function showSubtypes(userId: string, open: boolean) {
        const next = new Set(opened.value);
        if (open) next.add(userId);
        else next.delete(userId);
        opened.value = next;
    }

    async function loadUsers() {
        if (users.value) return;
        try {
            const all: User[] = [];
            let pageToken = "";
            do {
                const { response } = await identity.listUsers({ pageSize: 1000, pageToken, includeInactive: false });
                all.push(...response.users);
                pageToken = response.nextPageToken;
            } while (pageToken);
            users.value = all.sort((a, b) => collator.compare(a.name || a.login, b.name || b.login));
        } catch (e) {
            error.value = errorText(e);
        }
    }

    const following = new Set(followers?.map((f) => f.userId));
    const candidates = (users.value ?? []).filter((u) => !following.has(u.id));
    const sorted = [...(followers ?? [])].sort((a, b) => collator.compare(a.userName, b.userName));

    return (
        <section class="followers" aria-labelledby={`${base}-title`}>
            <h3 id={`${base}-title`}>Followers{followers ? ` (${followers.length})` : ""}</h3>
            {mine
                ? <button type="button" disabled={busy.value} onClick={() => unfollow("0")}>Unfollow</button>
                : <button type="button" disabled={busy.value || !followers} onClick={() => follow("0")}>Follow</button>}
            {error.value && <p class="error" role="alert">{error.value}</p>}
            {followers === null ? <p role="status">Loading…</p> : (
                <ul aria-label="Followers">
                    {sorted.map((f) => {
                        const self = f.userId === me.id;
                        const editable = self || canManage;
                        return (
                            <li key={f.userId}>
                                <span class="name">{f.userName || `User ${f.userId}`}{self ? " (you)" : ""}</span>
                                <details onToggle={(e) => showSubtypes(f.userId, (e.currentTarget as HTMLDetailsElement).open)}>
                                    <summary>When to be notified</summary>
                                    {/* made when opened: the boxes' names ("Stage changed", ...) stay
                                        out of the way of the labels of a form beside the chatter */}
                                    {opened.value.has(f.userId) && <fieldset disabled={!editable || busy.value}>
                                        <legend>{`When to notify ${f.userName || `user ${f.userId}`}`}</legend>
                                        {subtypeNames.map(({ subtype, label }) => {
                                            const id = `${base}-${f.userId}-${subtype}`;
                                            return (
                                                <div key={subtype} class="check">
                                                    <input id={id} type="checkbox" checked={chosen.value.get(`${f.userId}/${subtype}`) ?? f.subtypes.includes(subtype)}
                                                        onChange={(e) => toggle(f, subtype, e.currentTarget.checked)} />
                                                    <label for={id}>{label}</label>
                                                </div>
                                            );
                                        })}
                                    </fieldset>}
                                </details>
                                {!self && canManage && (
                                    <button type="button" disabled={busy.value} aria-label={`Remove ${f.userName || `user ${f.userId}`}`}
                                        onClick={() => unfollow(f.userId)}>Remove</button>
                                )}
                            </li>
                        );
                    })}
                </ul>
            )}
            {canManage && (
                <details class="add-follower" onToggle={(e) => (e.currentTarget as HTMLDetailsElement).open && loadUsers()}>
                    <summary>Add a follower</summary>
                    <form onSubmit={(e) => {
                        e.preventDefault();
                        if (picked.value) void follow(picked.value).then(() => (picked.value = ""));
                    }}>
                        <label for={`${base}-add`}>User to add</label>
                        <select id={`${base}-add`} value={picked.value} onChange={(e) => (picked.value = e.currentTarget.value)}>
                            <option value="">{users.value === null ? "Loading users…" : "Choose a user"}</option>
                            {candidates.map((u) => <option key={u.id} value={u.id}>{u.name || u.login}</option>)}
                        </select>
                        <button type="submit" disabled={busy.value || !picked.value}>Add follower</button>
                    </form>
                </details>
            )}
        </section>
    );
}
