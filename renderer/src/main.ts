import "uplot/dist/uPlot.min.css";
import "./app.css";

import { mount } from "svelte";

import App from "./App.svelte";

const target = document.getElementById("app");
if (!target) throw new Error("index.html lacks #app");
mount(App, { target });
