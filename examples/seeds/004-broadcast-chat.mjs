// Seed 004, server.js after "多人聊天": every message goes to every connected client.
// Changed from the article: the import, the port (PORT from the environment) and express → node:http
// (see 004-echo-server.mjs).
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

//当WebSocket从外部连接时执行
wss.on('connection', (ws) => {
  //连接时执行此 console 提示
  console.log('Client connected');

  //对message设置监听，接收从客户端发送的消息
  ws.on('message', (data) => {
    //取得所有连接中的 客户端
    let clients = wss.clients;
    //循环，发送消息至每个客户端
    clients.forEach((client) => {
      client.send(data);
    });
  });

  //当WebSocket的连接关闭时执行
  ws.on('close', () => {
    console.log('Close connected');
  });
});
