// The CRM's services as deploy/run-local.sh starts them, for the browser
// test and the browser benchmarks: the given backends and the gateway
// serving the web app on a free port, over ipc endpoints in a new folder.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

function freePort() {
    return new Promise((ok, fail) => {
        const s = createServer();
        s.once("error", fail);
        s.listen(0, "127.0.0.1", () => {
            const { port } = s.address();
            s.close(() => ok(port));
        });
    });
}

// bin: the folder of crm-* programs; backends: which services to start
// before the gateway; extraEnv: settings for them all. Returns { dir, base, procs, stopAll, call, waitReady }; stopAll ends
// them in reverse order and returns what went wrong (empty: all stopped).
export async function startServices({ bin, webDir, adminPassword, prefix = "crm-web-test.",
    backends = ["identity", "pipeline", "activities", "notifications"], extraEnv = {} }) {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const port = await freePort();
    const ep = (name) => `ipc://${dir}/${name}`;
    const env = {
        ...process.env,
        CRM_ADMIN_PASSWORD: adminPassword,
        CRM_IDENTITY_RPC: ep("identity.rpc"), CRM_IDENTITY_EVENTS: ep("identity.events"),
        CRM_IDENTITY_REPLAY: ep("identity.replay"),
        CRM_PIPELINE_RPC: ep("pipeline.rpc"), CRM_PIPELINE_EVENTS: ep("pipeline.events"),
        CRM_PIPELINE_REPLAY: ep("pipeline.replay"),
        CRM_ACTIVITIES_RPC: ep("activities.rpc"), CRM_ACTIVITIES_EVENTS: ep("activities.events"),
        CRM_ACTIVITIES_REPLAY: ep("activities.replay"),
        CRM_NOTIFICATIONS_RPC: ep("notifications.rpc"), CRM_NOTIFICATIONS_STREAM: ep("notifications.stream"),
        ...extraEnv,
    };
    const procs = [];
    function start(name, args) {
        mkdirSync(join(dir, "logs"), { recursive: true });
        const p = spawn(join(bin, `crm-${name}`), args, { env, stdio: ["ignore", "ignore", "pipe"] });
        let log = "";
        p.stderr.on("data", (d) => (log = (log + d).slice(-8000)));
        const exited = new Promise((ok) => p.on("exit", (code, signal) => ok({ code, signal })));
        procs.push({ name, p, exited, log: () => log });
    }
    for (const s of backends) start(s, ["--data-dir", join(dir, s)]);
    start("gateway", ["--zmq", ep("gateway.zmq"), "--http-port", String(port), "--web-dir", webDir]);

    async function stopAll() {
        for (const { p } of [...procs].reverse()) p.kill("SIGTERM");
        const timeout = new Promise((ok) => setTimeout(() => ok("timeout"), 20000));
        const bad = [];
        for (const { name, p, exited, log } of procs) {
            const r = await Promise.race([exited, timeout]);
            if (r === "timeout") {
                p.kill("SIGKILL");
                bad.push(`${name} did not stop`);
            } else if (r.code !== 0) {
                bad.push(`${name} exited ${r.code ?? r.signal}:\n${log()}`);
            }
        }
        return bad;
    }
    const base = `http://127.0.0.1:${port}`;

    // Twirp JSON through the HTTP door, as any client would; a refusal
    // throws with the server's error as e.twirp.
    async function call(method, body, token) {
        const headers = { "Content-Type": "application/json" };
        if (token) headers.Authorization = `Bearer ${token}`;
        const r = await fetch(`${base}/twirp/${method}`, { method: "POST", headers, body: JSON.stringify(body) });
        const json = await r.json();
        if (r.status !== 200) {
            const e = new Error(`${method}: ${json.code}: ${json.msg}`);
            e.twirp = json;
            throw e;
        }
        return json;
    }

    // The administrator's token once Login and each probe (a method every
    // started backend answers) succeed; a service that stops meanwhile, or
    // 60 s without an answer, fails it.
    async function waitReady(probes = ["crm.pipeline.v1.Pipeline/ListStages"]) {
        const until = Date.now() + 60000;
        for (;;) {
            try {
                const admin = (await call("crm.identity.v1.Identity/Login", { login: "admin", password: adminPassword })).token;
                for (const m of probes) await call(m, {}, admin);
                return admin;
            } catch (e) {
                for (const { name, p, log } of procs)
                    if (p.exitCode !== null) throw new Error(`${name} stopped at start:\n${log()}`);
                if (Date.now() > until) throw new Error(`the services did not answer in 60 s: ${e.message}`);
                await new Promise((ok) => setTimeout(ok, 200));
            }
        }
    }
    return { dir, base, procs, stopAll, call, waitReady };
}
