// Share pages: start one synchronized player per [data-player] element, the same module the
// studio's pages use, called as Streamlit would call it. Read-only: nothing goes back anywhere.
import syncPlayer from "./sync_player.js";

for (const mount of document.querySelectorAll("[data-player]")) {
  const data = JSON.parse(mount.dataset.player);
  syncPlayer({ data, parentElement: mount, setStateValue() {}, setTriggerValue() {} });
}
