// The signed-in user's own preferences: the default team, where a lead or
// customer they create goes when it names none (their first team
// otherwise). Any user may change it on themselves, among their teams.
import { useSignal } from "@preact/signals";
import { useEffect } from "preact/hooks";
import { UpdateUserRequest, type Team, type User } from "../gen/identity";
import { identity } from "./api";
import { loadTeams } from "./leads/lookups";
import { currentUser } from "./session";
import { Dialog } from "./ui/Dialog";
import { Field, FormAlert, failure, submitting, type FormError } from "./ui/form";

type Props = { user: User; onClose: () => void };

export function PreferencesDialog({ user, onClose }: Props) {
    const teams = useSignal<Team[] | null>(null);
    const choice = useSignal(user.defaultTeamId);
    const error = useSignal<FormError>(null);
    const busy = useSignal(false);

    useEffect(() => {
        loadTeams().then((all) => (teams.value = all.filter((t) => user.teamIds.includes(t.id))))
            .catch((e) => (error.value = failure(e)));
    }, []);

    async function submit(ev: Event) {
        ev.preventDefault();
        await submitting(busy, error, async () => {
            const { response } = await identity.updateUser(UpdateUserRequest.create({
                id: user.id, defaultTeamId: choice.value, updateMask: { paths: ["default_team_id"] },
            }));
            currentUser.value = response;
            onClose();
        });
    }

    return (
        <Dialog id="preferences" class="lead-dialog" title="Preferences" onClose={onClose}>
            <form method="dialog" onSubmit={submit}>
                <Field id="pref-default-team" label="Default team" name="defaultTeamId" error={error.value}>
                    <select id="pref-default-team" value={choice.value} aria-describedby="pref-default-team-error"
                        onChange={(e) => (choice.value = e.currentTarget.value)}>
                        <option value="0">My first team</option>
                        {(teams.value ?? []).map((t) => <option key={t.id} value={t.id}>{t.name}</option>)}
                        {/* kept as an option while the list has not got it (an archived team) */}
                        {choice.value !== "0" && teams.value && !teams.value.some((t) => t.id === choice.value) &&
                            <option value={choice.value}>Team {choice.value}</option>}
                    </select>
                </Field>
                <p>New leads and customers you create without a team go to this team.</p>
                <FormAlert error={error.value} fields={["defaultTeamId"]} />
                <div class="lead-actions">
                    <button type="submit" disabled={busy.value}>Save preferences</button>
                    <button type="button" onClick={onClose}>Cancel</button>
                </div>
            </form>
        </Dialog>
    );
}
