// Seed 002, 数据可能在传输过程中被窃听或篡改 → 验证来源: the server closes connections whose
// Origin is not https://example.com.
// Changed from the article: the import and the port (PORT from the environment, 8080 otherwise).
// (tidewire can refuse such a handshake before it completes, with `allowedOrigins`; the
// article's way, closing after the connection opened, is kept here.)
import { WebSocket } from 'tidewire';

const wss = new WebSocket.Server({ port: Number(process.env.PORT ?? 8080) });

wss.on('connection', (ws, req) => {
    const origin = req.headers.origin;
    if (origin !== 'https://example.com') {
        ws.close();
        console.error('Unauthorized origin:', origin);
    }
});
