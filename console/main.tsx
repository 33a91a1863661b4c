import { render } from "preact";
import { App } from "./app.js";
import { applyTheme } from "./ui/theme.js";

applyTheme();
render(<App />, document.getElementById("app")!);
