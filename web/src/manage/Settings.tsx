// Settings: the application's configuration, for sales managers; user
// administration is for administrators only (the API's rule).
import type { User } from "../../gen/identity";
import { isAdmin } from "../access";

export function Settings({ user }: { user: User }) {
    return (
        <section class="manage" aria-labelledby="settings-title">
            <h1 id="settings-title">Settings</h1>
            <ul class="manage-links">
                <li><a href="/settings/stages">Stages</a><span>the pipeline's columns, per sales team</span></li>
                <li><a href="/settings/teams">Sales teams</a><span>leaders and members</span></li>
                {isAdmin(user) && <li><a href="/settings/users">Users</a><span>accounts, access levels, passwords</span></li>}
                <li><a href="/settings/lost-reasons">Lost reasons</a><span>why an opportunity was lost</span></li>
                <li><a href="/settings/tags">Tags</a><span>categories for leads and opportunities</span></li>
                <li><a href="/settings/activity-types">Activity types</a><span>calls, e-mails, to-dos and their default deadlines</span></li>
            </ul>
        </section>
    );
}

// The way back to Settings from one of its screens.
export function SettingsCrumb({ here }: { here: string }) {
    return (
        <nav aria-label="Breadcrumb" class="manage-crumb">
            <a href="/settings">Settings</a> › <span aria-current="page">{here}</span>
        </nav>
    );
}
