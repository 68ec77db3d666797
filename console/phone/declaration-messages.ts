import type { Lang } from './messages.js';

/** The daily health declaration's words (the Ministry's usual questions, DOMAIN.md), Vietnamese first. */
const vi = {
  heading: 'Khai báo y tế hằng ngày',
  intro: 'Trả lời từng câu cho 14 ngày qua. Câu trả lời "Có" không làm bạn bị phạt; cán bộ y tế của đơn vị sẽ liên hệ để hướng dẫn.',
  yes: 'Có',
  no: 'Không',
  travel: 'Bạn có đi đến tỉnh, thành phố hoặc quốc gia khác không?',
  travelWhere: 'Nơi đã đến',
  symptomsHeading: 'Bạn có dấu hiệu nào sau đây không?',
  fever: 'Sốt',
  cough: 'Ho',
  breath: 'Khó thở',
  throat: 'Đau họng',
  nausea: 'Buồn nôn',
  diarrhoea: 'Tiêu chảy',
  tasteSmell: 'Mất vị giác hoặc khứu giác',
  contactsHeading: 'Bạn có tiếp xúc gần với:',
  contactCase: 'Người bệnh hoặc người nghi mắc bệnh',
  contactArea: 'Người từ nơi có ca bệnh trở về',
  contactSymptoms: 'Người có biểu hiện sốt, ho, khó thở',
  submit: 'Gửi tờ khai',
  missing: 'Hãy trả lời tất cả các câu hỏi.',
  sent: 'Đã gửi tờ khai lúc {time}.',
  queued: 'Chưa có mạng: tờ khai lúc {time} đã được lưu trên điện thoại và sẽ tự gửi khi có mạng.',
  refused: 'Hệ thống không nhận tờ khai: {error}',
  flagged: 'Bạn có câu trả lời "Có": hãy báo ngay cho cán bộ y tế của đơn vị và làm theo hướng dẫn.',
};

type DeclarationMessages = typeof vi;

const en: DeclarationMessages = {
  heading: 'Daily health declaration',
  intro: 'Answer each question for the last 14 days. A "yes" does not get you punished; your organisation\'s health officer will contact you with advice.',
  yes: 'Yes',
  no: 'No',
  travel: 'Have you travelled to another province, city or country?',
  travelWhere: 'Where',
  symptomsHeading: 'Have you had any of these?',
  fever: 'Fever',
  cough: 'Cough',
  breath: 'Shortness of breath',
  throat: 'Sore throat',
  nausea: 'Nausea',
  diarrhoea: 'Diarrhoea',
  tasteSmell: 'Loss of taste or smell',
  contactsHeading: 'Have you been in close contact with:',
  contactCase: 'A confirmed or suspected case',
  contactArea: 'Someone back from an area with cases',
  contactSymptoms: 'Someone with fever, cough or shortness of breath',
  submit: 'Send the declaration',
  missing: 'Please answer every question.',
  sent: 'Declaration sent at {time}.',
  queued: 'Offline: the declaration of {time} is kept on this phone and will be sent when you are online.',
  refused: 'The system did not take the declaration: {error}',
  flagged: 'You answered "yes": tell your organisation\'s health officer now and follow their advice.',
};

export const DECLARATION_MESSAGES: Record<Lang, DeclarationMessages> = { vi, en };
