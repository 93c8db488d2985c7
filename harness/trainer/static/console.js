// The trainer console's page: every button posts to /api/…; the answer is the whole state, drawn here.
"use strict";

const $ = (id) => document.getElementById(id);
let busy = false;

async function call(path, payload) {
  const options = payload === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(payload),
  };
  let answer;
  try {
    answer = await fetch(path, options);
  } catch (error) {
    return {error: "La console ne répond pas (le serveur est-il arrêté ?)."};
  }
  try {
    return await answer.json();
  } catch (error) {
    return {error: `Réponse illisible de la console (HTTP ${answer.status}).`};
  }
}

async function operate(op, payload = {}) {
  if (busy) return;
  busy = true;
  setBusy(true);
  const polling = setInterval(refresh, 1000);
  const answer = await call(`/api/${op}`, payload);
  clearInterval(polling);
  busy = false;
  if (answer.error) {
    await refresh();
    show($("probleme"), answer.error);
  } else {
    draw(answer);
  }
}

async function refresh() {
  const answer = await call("/api/state");
  if (!answer.error) draw(answer);
}

function show(element, text) {
  element.textContent = text || "";
  element.hidden = !text;
}

function setBusy(on) {
  document.querySelectorAll("button").forEach((b) => { b.disabled = on || b.dataset.off === "1"; });
  if (on) $("etat").textContent = "En cours…";
}

function draw(s) {
  $("etat").textContent = s.working ? `En cours : ${s.working}…` : s.state_text;
  show($("probleme"), s.problem);
  show($("avis"), s.notice);
  $("parcours").hidden = !s.path;
  drawPhone(s.path ? s.phone : null);
  if (!s.path) return setBusy(busy);
  const p = s.path;
  $("titre").textContent = `${p.id} — ${p.title}`;
  $("section").textContent = `${p.guide} · navigateur : ${p.driver === "chromium" ? "Chromium" : "protocole"}`;
  $("position").textContent = `Étape ${p.position} sur ${p.total}`;
  $("cible").max = p.total;
  if (document.activeElement !== $("cible")) $("cible").value = p.position;
  const allowed = new Set(s.allowed);
  const off = {
    precedent: !allowed.has("back") || p.position === 0,
    suivant: !allowed.has("next") || p.position >= p.total,
    recommencer: !allowed.has("restart"),
    arreter: !allowed.has("stop"),
    ouvrir: !allowed.has("own-browser"),
  };
  for (const [id, value] of Object.entries(off)) $(id).dataset.off = value ? "1" : "0";
  $("ouvrir").textContent = s.own_browser.can_launch ? "Ouvrir dans Chromium" : "Afficher la commande pour Chromium";
  drawLast(s);
  drawView(s.view, Boolean(s.last));
  drawSwitches(s);
  drawSteps(p);
  $("suite").textContent = s.next ? `À suivre — étape ${s.next.step} (${s.next.actor}) : ${s.next.text}` : "Parcours terminé.";
  show($("commande"), s.own_browser.command);
  setBusy(busy);
}

function drawLast(s) {
  const last = s.last;
  if (!last) {
    $("etape-titre").textContent = "Aucune étape jouée";
    $("dire").textContent = "";
    for (const id of ["acteur", "identifiant", "verdict"]) $(id).textContent = "—";
    $("verdict").className = "";
    show($("erreur-navigateur"), "");
    $("details").textContent = "";
    return;
  }
  $("etape-titre").textContent = last.switch ? `Panne : ${last.switch}` : `Étape ${last.step}`;
  $("dire").textContent = last.text;
  $("acteur").textContent = last.actor;
  $("identifiant").textContent = last.screen || "(aucun)";
  $("verdict").textContent = last.verdict.text;
  $("verdict").className = `verdict-${last.verdict.code}`;
  show($("erreur-navigateur"), last.browser_error);
  const lines = [`action : ${last.action}`, `résultat : ${last.detail}`];
  if (last.status) lines.push(`HTTP ${last.status}`);
  if (last.url) lines.push(`adresse : ${last.url}`);
  if (last.failure) lines.push(`échec : ${last.failure}`);
  $("details").textContent = lines.join("\n");
}

function drawView(v, played) {
  const screen = $("ecran");
  screen.replaceChildren();
  $("adresse").textContent = v && v.url ? v.url : "";
  if (!v) {
    const p = document.createElement("p");
    p.className = "vide";
    p.textContent = played ? "Le navigateur n'a encore rien ouvert." : "Pas encore d'écran : jouez une étape.";
    screen.append(p);
  } else if (v.kind === "png") {
    const img = document.createElement("img");
    img.src = `${v.src}?t=${Date.now()}`;
    img.alt = "Écran du professionnel";
    screen.append(img);
  } else if (v.kind === "html") {
    const frame = document.createElement("iframe");
    frame.setAttribute("sandbox", "");
    frame.title = "Page vue par le professionnel";
    frame.srcdoc = v.html;
    screen.append(frame);
  } else {
    const p = document.createElement("p");
    p.className = "erreur";
    p.textContent = v.text;
    screen.append(p);
  }
}

function drawPhone(phone) {
  const box = $("telephone");
  const screen = $("telephone-ecran");
  box.hidden = !phone;
  if (!phone) return screen.replaceChildren();
  $("appareil").textContent = phone.device;
  let frame = screen.querySelector("iframe");
  if (!frame) {
    frame = document.createElement("iframe");
    frame.setAttribute("sandbox", "");
    frame.title = "Écran du téléphone";
    screen.append(frame);
  }
  if (frame.srcdoc !== phone.html) frame.srcdoc = phone.html;
}

function drawSwitches(s) {
  const box = $("interrupteurs");
  box.replaceChildren();
  for (const sw of s.switches) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = sw.label;
    button.title = sw.help;
    button.dataset.off = sw.enabled ? "0" : "1";
    button.addEventListener("click", () => operate("switch", {switch: sw.id}));
    box.append(button);
  }
  const list = $("appliquees");
  list.replaceChildren();
  for (const a of s.applied) {
    const li = document.createElement("li");
    li.textContent = `${a.label} (après l'étape ${a.after})`;
    list.append(li);
  }
}

function drawSteps(p) {
  const list = $("etapes");
  list.replaceChildren();
  for (const step of p.steps) {
    const li = document.createElement("li");
    li.className = step.played ? `jouee verdict-${step.verdict}` : "";
    if (step.step === p.position) li.classList.add("courante");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "lien";
    button.textContent = `${step.actor} — ${step.text}`;
    button.title = `Aller à l'étape ${step.step}`;
    button.addEventListener("click", () => operate("goto", {step: step.step}));
    li.append(button);
    list.append(li);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("choix").addEventListener("submit", (e) => {
    e.preventDefault();
    const data = new FormData($("choix"));
    if (!data.get("scenario")) return show($("probleme"), "Choisissez un parcours dans la liste.");
    operate("start", {scenario: data.get("scenario"), driver: data.get("driver")});
  });
  $("aller").addEventListener("submit", (e) => {
    e.preventDefault();
    operate("goto", {step: Number($("cible").value)});
  });
  document.querySelectorAll("button[data-op]").forEach((b) => b.addEventListener("click", () => operate(b.dataset.op)));
  const chosen = document.body.dataset.chosen;
  if (chosen) document.querySelector(`input[value="${chosen}"]`)?.scrollIntoView({block: "center"});
  refresh();
});
