// Paints the daemon's frames into the canvas and says which one it painted.
//
// Each binary message is one frame: u32 sequence, u16 width, u16 height (little-endian), then
// width*height RGBA bytes, alpha 0 where the background was keyed out. Only the newest frame that
// arrived is painted, in the next animation frame; then the page answers {"painted": sequence},
// which lets the daemon send the next one and measure its latency. When the socket goes (a daemon
// restart) the canvas keeps the last frame and the page reconnects by itself.
//
// Runs in OBS 29's Browser Source (CEF, Chromium 103): plain ES2015 and APIs Chrome has had for
// years (per MDN's browser-compat-data: WebSocket 5, binaryType 15, DataView 9, ImageData() 36,
// putImageData 2, requestAnimationFrame 24, dataset 7, URLSearchParams 49, the newest one here).
"use strict";
(function () {
  var HEADER_BYTES = 8;
  var RETRY_FIRST_MS = 250;
  var RETRY_LONGEST_MS = 2000;

  var canvas = document.getElementById("stream");
  var context = canvas.getContext("2d");
  var token = new URLSearchParams(location.search).get("token");
  var socketUrl = "ws://" + location.host + "/ws" + (token ? "?token=" + encodeURIComponent(token) : "");
  var newest = null; // {socket, data}: the frame waiting for the next animation frame
  var paintScheduled = false;
  var retryMs = RETRY_FIRST_MS;

  function paint() {
    paintScheduled = false;
    var frame = newest;
    newest = null;
    if (frame === null) return;
    var header = new DataView(frame.data, 0, HEADER_BYTES);
    var sequence = header.getUint32(0, true);
    var width = header.getUint16(4, true);
    var height = header.getUint16(6, true);
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    var pixels = new Uint8ClampedArray(frame.data, HEADER_BYTES, width * height * 4);
    context.putImageData(new ImageData(pixels, width, height), 0, 0);
    canvas.dataset.sequence = String(sequence);
    if (frame.socket.readyState === WebSocket.OPEN) {
      frame.socket.send(JSON.stringify({ painted: sequence }));
    }
  }

  function connect() {
    var socket = new WebSocket(socketUrl);
    socket.binaryType = "arraybuffer";
    socket.onopen = function () {
      retryMs = RETRY_FIRST_MS;
      document.body.dataset.connected = "1";
    };
    socket.onmessage = function (event) {
      if (!(event.data instanceof ArrayBuffer) || event.data.byteLength < HEADER_BYTES) return;
      newest = { socket: socket, data: event.data };
      if (!paintScheduled) {
        paintScheduled = true;
        requestAnimationFrame(paint);
      }
    };
    socket.onclose = function () {
      document.body.dataset.connected = "0";
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_LONGEST_MS);
    };
  }

  connect();
})();
