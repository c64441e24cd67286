// Seed 004 ("WebSocket 协议完全指南"), server.js: the echo server.
// Changed from the article: the import (tidewire for ws), the port (PORT from the environment,
// 3000 as in the article otherwise), and express → node:http: express is not a dependency here.
// `express().listen(PORT, cb)` is `http.createServer(app).listen(PORT, cb)`; the handler below
// stands in for express's default answer to a route that does not exist (404).
import http from 'node:http';
import { WebSocketServer as SocketServer } from 'tidewire';

//指定开启的端口号
const PORT = Number(process.env.PORT ?? 3000);

// 创建express，绑定监听3000端口，且设定开启后在consol中提示
const server = http
  .createServer((req, res) => res.writeHead(404).end())
  .listen(PORT, () => console.log(`Listening on ${PORT}`));

// 将express交给SocketServer开启WebSocket的服务
const wss = new SocketServer({ server });

//当 WebSocket 从外部连接时执行
wss.on('connection', (ws) => {
  //连接时执行此 console 提示
  console.log('Client connected');

  // 对message设置监听，接收从客户端发送的消息
  ws.on('message', (data) => {
    //data为客户端发送的消息，将消息原封不动返回回去
    ws.send(data);
  });

  // 当WebSocket的连接关闭时执行
  ws.on('close', () => {
    console.log('Close connected');
  });
});
