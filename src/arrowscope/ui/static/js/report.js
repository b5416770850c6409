// The static report: the round page drawn from the data inlined in the file.
import { h, clear } from "./dom.js";
import { staticSource } from "./api.js";
import { renderRound } from "./pages/round.js";

const main = document.getElementById("main");
const report = JSON.parse(document.getElementById("arrowscope-data").textContent);
renderRound(main, report.key, staticSource(report)).then(() => {
  main.dataset.ready = "true";
}).catch((error) => {
  clear(main).append(h("p", { class: "error", text: error.message }));
  main.dataset.ready = "error";
});
